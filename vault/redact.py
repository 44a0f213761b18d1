"""Redaction of secrets and personal details before text leaves the machine or the vault.

`Redactor().redact(text)` replaces
- secrets (private keys, API tokens, bearer tokens, URL credentials, keyword assignments such as
  `password = "..."`, high-entropy tokens) with `[REDACTED:<type>]`,
- e-mail addresses with `[EMAIL]`,
- phone numbers with `[PHONE]` (Google's libphonenumber, `phonenumbers`: any number in international
  `+<country>` form, national forms of the configured regions, `[redact] phone_regions`),
- IPv4 addresses with `[IP]` (validated with `ipaddress`; loopback, 0.0.0.0, link-local, multicast and
  reserved/broadcast/netmask addresses are kept: they say nothing about a person),
- home paths of any OS and any user (/home/<u>, /Users/<u>, C:\\Users\\<u>, C:\\Documents and
  Settings\\<u>, and the configured home) with `~`, and the name found in such a path, and the current
  user name, as a whole word elsewhere in the same text, with `[USER]`.
docs/privacy.md lists exactly what is and is not redacted, and where redaction happens.

Layers: our own compiled patterns over the whole text (each runs only if a cheap substring
"needle" is present); a strict high-entropy check (base64-like token of 20+ chars mixing upper,
lower and digits, Shannon entropy >= 4.5 as in detect-secrets, not a path, id or word list); then
the detect-secrets regex plugins and its keyword plugin, configured in code (no baseline, no
global settings), run only on lines that look suspicious (a long token with a digit, or a
secret-like name next to `=`/`:`): detect-secrets' `scan_line` costs ~0.4 ms a line and its eager
entropy mode flags ordinary words. Phone numbers: libphonenumber's matcher, only on candidate spans of grouped
digits. Speed: bench/redact_bench.py (0.48 ms a message on the 7,862 corpus messages, 1.33x without the phone
and IPv4 detectors, on a busy shared machine).
Git shas, hashes and uuids are not redacted: they are everywhere in coding sessions and are not
secrets, unless detect-secrets' keyword plugin sees one assigned to a secret-like name.
"""

from __future__ import annotations

import getpass
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

EMAIL = "email"
HOME_PATH = "home_path"
USER_NAME = "user_name"
PHONE = "phone"
IP_ADDRESS = "ip_address"
# Finding types that are personal details, not secrets (pair filters count the others as "secrets").
PERSONAL_TYPES = frozenset({EMAIL, HOME_PATH, USER_NAME, PHONE, IP_ADDRESS})
# National phone formats are read as numbers of these regions (ISO 3166 codes); `+<country>` numbers always.
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN")
ELLIPSIS = "…"

# (type, pattern, group, needles): the span of `group` is replaced, so a prefix like "Bearer " can stay.
# A pattern runs only when one of its needles is in the text (lower-case needles: in the lower-cased text),
# because scanning every position of every message with a dozen regexes is the slow part.
_SECRET_PATTERNS: list[tuple[str, str, int, tuple[str, ...]]] = [
    ("private_key",
     r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", 0,
     ("PRIVATE KEY",)),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}", 0, ("sk-ant-",)),
    ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}", 0, ("sk-",)),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})", 0,
     ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", 0, ("AKIA", "ASIA", "ABIA", "ACCA")),
    ("aws_secret_key", r"(?i)aws_?secret_?(?:access_?)?key[\"']?\s*[=:]\s*[\"']?([A-Za-z0-9/+]{40})", 1,
     ("secret",)),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", 0, ("xox",)),
    ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+", 0, ("hooks.slack.com",)),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}", 0, ("eyJ",)),
    ("bearer_token", r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)", 1, ("bearer",)),
    # https://user:pass@host -> https://[REDACTED:url_credentials]@host
    ("url_credentials", r"(?<=://)([^\s/:@\"'<>]+:[^\s/@\"'<>]+)@", 1, ("://",)),
    ("url_token",
     r"(?i)[?&](?:token|access_token|refresh_token|id_token|key|api_key|apikey|api-key|secret|client_secret"
     r"|password|passwd|pwd|auth|sig|signature)=([^&\s#\"'<>]{4,})", 1, ("=",)),
]
# The local part starts with a letter or digit: a diff line "+@router.get(...)" is a decorator, not an address.
_EMAIL_RE = r"(?<![\w.+-])(?!git@)[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
# Any user's home, not only ours: /home/<u>, /Users/<u>, C:\\Users\\<u>, C:\\Documents and Settings\\<u>
# (any case, also with JSON-escaped backslashes). A Windows name may hold spaces when a separator follows.
_NAME = r"[^/\\\s\"'`<>:|*?,;()\[\]{}]"
_SEP = r"(?:\\\\|\\|/)"
_HOME_RE = (rf"(?:/home/|/Users/){_NAME}+"
            rf"|\b[A-Za-z]:{_SEP}(?i:users|documents and settings){_SEP}(?:{_NAME}+(?: {_NAME}+){{1,3}}(?={_SEP})|{_NAME}+)")
# Claude Code project folders spell the home as a slug: -home-jdoe-code-app
_HOME_SLUG_RE = r"(?<=-home-)[A-Za-z0-9_.]+(?=-)|(?<=-Users-)[A-Za-z0-9_.]+(?=-)"
# IPv4 candidates: four dotted numbers not inside a longer dotted run (versions such as 1.2.3.4.5, v1.2.3.4).
_IPV4_RE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")  # word boundaries checked in code (faster)
# Phone candidates for libphonenumber: 7-15 digits with the usual separators, not glued to a word or a number.
_PHONE_CANDIDATE_RE = re.compile(r"\+?\(?\d[\d \t().\-/]{5,22}\d")  # word boundaries checked in code
_DATE_RE = re.compile(r"\d{4}[-/.]\d\d[-/.]\d\d")  # a timestamp, not a phone
_DATE_OR_IP_RE = re.compile(rf"{_DATE_RE.pattern}|{_IPV4_RE.pattern}")
_DECIMAL_RE = re.compile(r"\(?\d+\.\d+\)?")  # 3.14159265: a number, not a phone
# Account names that are ordinary words: replacing them everywhere would wreck prose ("root cause").
_GENERIC_USERS = frozenset({"root", "admin", "user", "users", "ubuntu", "runner", "vagrant", "guest", "test",
                            "dev", "app", "node", "home", "ec2-user", "nobody", "default", "local"})

# Lines worth handing to detect-secrets: a long token holding a digit, or a secret-like name next to = or :.
_LONG_TOKEN_RE = re.compile(r"[A-Za-z0-9+/_\-.=]{20,}")
_DIGIT_RE = re.compile(r"\d")
# run on the lower-cased text: a case-insensitive alternation is 7x slower
_KEYWORD_RE = re.compile(r"(?:pass|pwd|secret|token|api.?key|auth|credential|private)[\w\"']*\s*[=:]")
# Candidate high-entropy tokens (base64 alphabet, 20+ chars); hex-only tokens are left alone (shas, hashes).
_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{20,}={0,2}(?![A-Za-z0-9+/_\-])")
_HEX_RE = re.compile(r"[0-9a-fA-F\-]+")
# Public ids in assistant transcripts (Anthropic request/message/tool ids, OpenAI ids): random, not secret.
_ID_PREFIXES = ("req_", "msg_", "agent_msg_", "msgbatch_", "toolu_", "srvtoolu_", "file_", "chatcmpl-", "call_",
                "run_", "asst_")
_BASE64_ENTROPY_LIMIT = 4.5  # detect-secrets' default for Base64HighEntropyString
# detect-secrets plugins we do not use: entropy (replaced by the stricter token check above),
# public IPs (not secrets) and the ones our own patterns already cover.
_SKIPPED_PLUGINS = frozenset({"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector",
                              "AWSKeyDetector", "GitHubTokenDetector", "SlackDetector", "PrivateKeyDetector",
                              "BasicAuthDetector", "JwtTokenDetector", "OpenAIDetector"})


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


@lru_cache(maxsize=1)
def _detect_secrets_plugins() -> tuple[Any, ...]:
    """detect-secrets plugin instances, configured in code (no baseline file, no global settings)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins = []
    for cls in get_mapping_from_secret_type_to_class().values():
        if cls.__name__ not in _SKIPPED_PLUGINS:
            plugins.append(cls())
    return tuple(sorted(plugins, key=lambda p: type(p).__name__))


def _plugin_type(plugin: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "_", plugin.secret_type.lower()).strip("_")


def _looks_like_id(secret: str, line: str) -> bool:
    """detect-secrets' own false-positive heuristics."""
    from detect_secrets.filters import heuristic as h

    return (h.is_sequential_string(secret) or h.is_potential_uuid(secret) or h.is_templated_secret(secret)
            or h.is_prefixed_with_dollar_sign(secret) or h.is_likely_id_string(secret, line)
            or h.is_not_alphanumeric_string(secret))


class Redactor:
    """Finds and replaces secrets and personal details. Build once, use on many texts."""

    def __init__(self, home: str | None = None, user: str | None = None, detect_secrets: bool = True,
                 phone_regions: Sequence[str] | None = None):
        self.phone_regions = tuple(r.upper() for r in (DEFAULT_PHONE_REGIONS if phone_regions is None
                                                        else phone_regions))
        self.home = (home if home is not None else str(Path.home())).rstrip("/\\")
        self.user = user if user is not None else _current_user()
        self.use_detect_secrets = detect_secrets
        self._patterns = [(t, re.compile(p, re.DOTALL), g, n) for t, p, g, n in _SECRET_PATTERNS]
        self._patterns.append((EMAIL, re.compile(_EMAIL_RE), 0, ("@",)))
        home_res = [_HOME_RE]
        if self.home and len(self.home) > 1 and not re.match(r"^(/home|/Users|[A-Za-z]:\\Users)[/\\]", self.home):
            home_res.insert(0, r"(?<![\w.-])" + re.escape(self.home) + r"(?=[/\\]|\b|$)")  # /root, /var/lib/jenkins
        self._home_re = re.compile("|".join(f"(?:{r})" for r in home_res))
        self._slug_re = re.compile(_HOME_SLUG_RE)
        self._user_re = None
        if self.user and len(self.user) >= 3 and self.user.lower() not in _GENERIC_USERS:
            self._user_re = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(self.user) + r"(?![A-Za-z0-9_])")

    @classmethod
    def from_settings(cls, settings: Any) -> Redactor:
        """The redactor configured by the `[redact]` section of vault.settings.Settings."""
        return cls(phone_regions=settings.redact.phone_regions)

    # --- finding -------------------------------------------------------------------------------
    def findings(self, text: str) -> list[tuple[str, int, int]]:
        """Non-overlapping (type, start, end) spans, in text order. Types in PERSONAL_TYPES are not secrets."""
        if not text:
            return []
        spans: list[tuple[str, int, int]] = []
        lower = text.lower()
        for kind, rx, group, needles in self._patterns:
            if not any(n in (lower if n.islower() else text) for n in needles):
                continue
            for m in rx.finditer(text):
                if m.group(group):
                    spans.append((kind, m.start(group), m.end(group)))
        names = set()
        if "users" in lower or "/home/" in text or "settings" in lower or (self.home and self.home in text):
            # a sentence's full stop after the name is not part of it: "in /home/ann." -> "in ~."
            for m in self._home_re.finditer(text):
                path = m.group().rstrip(".")
                spans.append((HOME_PATH, m.start(), m.start() + len(path)))
                names.add(re.split(r"[/\\]", path)[-1])
        if "-home-" in text or "-Users-" in text:
            for m in self._slug_re.finditer(text):
                spans.append((USER_NAME, m.start(), m.end()))
                names.add(m.group())
        # the name of a home found in this text, elsewhere in it ("ssh jsmith@host", "Owner: jsmith")
        names = {n for n in names if len(n) >= 3 and n.lower() not in _GENERIC_USERS and n != self.user}
        if names:
            rx = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                            + r")(?![A-Za-z0-9_])")
            spans.extend((USER_NAME, m.start(), m.end()) for m in rx.finditer(text))
        if self._user_re:
            spans.extend((USER_NAME, m.start(), m.end()) for m in self._user_re.finditer(text))
        spans.extend(self._ip_addresses(text))
        spans.extend(self._phone_numbers(text))
        spans.extend(self._entropy_tokens(text))
        if self.use_detect_secrets:
            spans.extend(self._detect_secrets(text, lower))
        return _non_overlapping(spans)

    def secrets(self, text: str) -> list[tuple[str, int, int]]:
        """Only the secret findings (what a "secrets detected" filter wants)."""
        return [f for f in self.findings(text) if f[0] not in PERSONAL_TYPES]

    def _ip_addresses(self, text: str) -> Iterable[tuple[str, int, int]]:
        for m in _IPV4_RE.finditer(text):
            s, e = m.span()
            # not inside a longer dotted run or word: 1.2.3.4.5, v1.2.3.4, 1.2.3.4a
            if (s and (text[s - 1].isalnum() or text[s - 1] in "._")) or (e < len(text) and (
                    text[e].isalnum() or text[e] == "_" or (text[e] == "." and text[e + 1:e + 2].isdigit()))):
                continue
            try:
                ip = ipaddress.IPv4Address(m.group())
            except ValueError:  # 999.1.1.1, leading zeros
                continue
            if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast or ip.is_reserved):
                yield (IP_ADDRESS, s, e)

    def _phone_numbers(self, text: str) -> Iterable[tuple[str, int, int]]:
        """libphonenumber's matcher on candidate spans: `+` numbers of a possible length, others valid in a region."""
        for m in _PHONE_CANDIDATE_RE.finditer(text):
            cand, s, e = m.group(), m.start(), m.end()
            # not glued to a word, an id or a path: x1234567, #4155552671, /123 456 789, 12345678.9
            if (s and (text[s - 1].isalnum() or text[s - 1] in "_.:/#=-")) or (e < len(text) and (
                    text[e].isalnum() or text[e] == "_" or (text[e] in ".:/" and text[e + 1:e + 2].isdigit()))):
                continue
            # a date or an IP address inside a candidate splits it: "(415) 555-2671 10.1.2.3", "2025-12-03 16-40-42"
            for piece_start, piece in _pieces(cand, _DATE_OR_IP_RE):
                yield from self._phones_in(piece, s + piece_start)

    def _phones_in(self, cand: str, offset: int) -> Iterable[tuple[str, int, int]]:
        stripped = cand.lstrip(" \t-./")
        offset, cand = offset + len(cand) - len(stripped), stripped.rstrip(" \t-./")
        if sum(c.isdigit() for c in cand) < 7 or not (cand.startswith("+") or _phone_shaped(cand)):
            return  # too short, or a bare digit run, a version, a range: not written like a phone
        for region in ("ZZ",) if cand.startswith("+") else self.phone_regions:  # "ZZ": + numbers only
            found = [(PHONE, offset + p.start, offset + p.end) for p in _phone_matches(cand, region)
                     if _phone_shaped(p.raw_string)]
            if found:
                yield from found
                return

    def _entropy_tokens(self, text: str) -> Iterable[tuple[str, int, int]]:
        for m in _TOKEN_RE.finditer(text):
            tok = m.group(0)
            if _HEX_RE.fullmatch(tok) or tok.startswith(_ID_PREFIXES) or _is_path_like(tok) or _is_words(tok):
                continue
            # base64 secrets mix upper, lower and digits; identifiers and words rarely reach the entropy limit
            if not (re.search(r"\d", tok) and re.search(r"[a-z]", tok) and re.search(r"[A-Z]", tok)):
                continue
            if _entropy(tok) >= _BASE64_ENTROPY_LIMIT and not _looks_like_id(tok, text[max(0, m.start() - 40):m.end()]):
                yield ("high_entropy_string", m.start(), m.end())

    def _detect_secrets(self, text: str, lower: str) -> Iterable[tuple[str, int, int]]:
        for start, line in _suspicious_lines(text, lower):
            for plugin in _detect_secrets_plugins():
                for secret in plugin.analyze_string(line):
                    if not secret or len(secret) < 6:
                        continue
                    if type(plugin).__name__ == "KeywordDetector" and _looks_like_id(secret, line):
                        continue
                    at = line.find(secret)
                    while at >= 0:
                        yield (_plugin_type(plugin), start + at, start + at + len(secret))
                        at = line.find(secret, at + len(secret))

    # --- replacing -----------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        if not text:
            return text
        out, pos = [], 0
        for kind, start, end in self.findings(text):
            out.append(text[pos:start])
            out.append(_replacement(kind))
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def redact_obj(self, obj: Any) -> Any:
        """A copy of a JSON-like object (dicts, lists, tuples, strings) with every string redacted, keys too."""
        if isinstance(obj, str):
            return self._redact_cached(obj)
        if isinstance(obj, dict):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact_obj(v) for v in obj]
        if isinstance(obj, tuple):
            items = [self.redact_obj(v) for v in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)  # named tuples too
        return obj

    def clip(self, text: str, limit: int) -> str:
        """Redact first, then cut to `limit` characters (+ "…"): a cut secret would no longer match its pattern."""
        text = self.redact(text or "")
        return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS

    def _redact_cached(self, text: str) -> str:
        # one persona or system prompt repeats in every row of an export
        if len(text) > 200:
            cache = self.__dict__.setdefault("_cache", {})
            if text not in cache:
                if len(cache) > 256:
                    cache.clear()
                cache[text] = self.redact(text)
            return cache[text]
        return self.redact(text)

    def redact_messages(self, messages: list[dict]) -> list[dict]:
        """Copies of chat messages ({"role", "content"}; content a string or a list of blocks) with text redacted."""
        return [{**m, "content": self._redact_content(m.get("content"))} for m in messages]

    def _redact_content(self, content: Any) -> Any:
        if isinstance(content, str):
            return self.redact(content)
        if isinstance(content, list):
            return [{**b, "text": self.redact(b["text"])} if isinstance(b, dict) and isinstance(b.get("text"), str)
                    else self._redact_content(b) if isinstance(b, (str, list)) else b for b in content]
        return content


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """One shared Redactor with the defaults (for text cut or sent where no settings were passed down)."""
    return Redactor()


def redact(text: str) -> str:
    return default_redactor().redact(text)


def clip(text: str, limit: int) -> str:
    """Redact, then cut (see Redactor.clip)."""
    return default_redactor().clip(text, limit)


def anonymous_name(name: str | None) -> str | None:
    """A project or role name that names no one: redacted, then an absolute path reduced to its last part
    ("C:\\Users\\jsmith\\ledger" -> "ledger"; a home folder itself -> "~"; "owner/repo" stays)."""
    if not name:
        return name
    out = redact(name)
    if re.match(r"(?:~|/|\\|[A-Za-z]:[\\/])", out):
        parts = [p for p in re.split(r"[/\\]+", out) if p]
        out = parts[-1] if parts else out
    return out


def _phone_matches(text: str, region: str):
    """Numbers of `region` that are valid there; with region "ZZ", `+<country>` numbers of a possible length."""
    import phonenumbers  # ~0.1 s to import: only when a candidate shows up

    lenient = phonenumbers.Leniency.POSSIBLE if region == "ZZ" else phonenumbers.Leniency.VALID
    return phonenumbers.PhoneNumberMatcher(text, region, leniency=lenient)


def _pieces(text: str, sep: re.Pattern) -> list[tuple[int, str]]:
    """(offset, piece) of `text` between the matches of `sep`."""
    out, pos = [], 0
    for m in sep.finditer(text):
        out.append((pos, text[pos:m.start()]))
        pos = m.end()
    out.append((pos, text[pos:]))
    return out


def _phone_shaped(raw: str) -> bool:
    """Written like a phone number: `+` or grouped digits; not an id, an IP, a decimal or a range (40212-40214)."""
    if raw.startswith("+"):
        return True
    groups = re.findall(r"\d+", raw)
    if len(groups) < 2 or _IPV4_RE.search(raw) or _DECIMAL_RE.fullmatch(raw) or _DATE_RE.search(raw):
        return False
    return not (len(groups) == 2 and "-" in raw and len(groups[0]) == len(groups[1]))


def _replacement(kind: str) -> str:
    if kind == EMAIL:
        return "[EMAIL]"
    if kind == PHONE:
        return "[PHONE]"
    if kind == IP_ADDRESS:
        return "[IP]"
    if kind == HOME_PATH:
        return "~"
    if kind == USER_NAME:
        return "[USER]"
    return f"[REDACTED:{kind}]"


def _suspicious_lines(text: str, lower: str) -> list[tuple[int, str]]:
    """(offset, line) of the lines worth the detect-secrets plugins; found with two regexes over the whole text."""
    hits = {m.start() for m in _LONG_TOKEN_RE.finditer(text) if _DIGIT_RE.search(m.group())}
    hits.update(m.start() for m in _KEYWORD_RE.finditer(lower))
    lines = {}
    for pos in hits:
        start = text.rfind("\n", 0, pos) + 1
        if start not in lines:
            end = text.find("\n", pos)
            lines[start] = text[start:end if end >= 0 else len(text)]
    return [(start, line) for start, line in sorted(lines.items()) if len(line) < 4000]


def _is_path_like(tok: str) -> bool:
    """src/billing/export/csvExport, Users/chip/dev: word-ish segments, mostly lower case (base64 is half upper)."""
    letters = [c for c in tok if c.isalpha()]
    return tok.count("/") >= 1 and bool(letters) and sum(c.isupper() for c in letters) / len(letters) < 0.25


def _is_words(tok: str) -> bool:
    """INFRASTRUCTURE-DOCS_2-Git-Hooks: every piece is a word or a number; base64 pieces mix letters and digits."""
    return all(p.isalpha() or p.isdigit() for p in re.split(r"[-_/.+=]+", tok) if p)


def _non_overlapping(spans: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Earliest start wins, then the longest, then a named type over the generic entropy one."""
    kept: list[tuple[str, int, int]] = []
    for kind, start, end in sorted(spans, key=lambda s: (s[1], -(s[2] - s[1]), s[0] == "high_entropy_string")):
        if kept and start < kept[-1][2]:
            continue
        kept.append((kind, start, end))
    return kept


def _current_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return None
