"""Personas per role: the person's standing preferences, stated as short rules, from their corrections.

Offline backend (the default) is **extractive**: it quotes rules the person stated, it does not infer
what they meant. For each role:
1. the feedback texts of its corrections (effective label `reattempt_with_feedback`, text a person
   typed) are cut into clauses ("too long. two sentences max, and no emojis" -> three clauses); pasted
   output (tracebacks, logs, code), hook and tool text and filler ("no,", "please") are dropped; a
   complaint about a thing becomes the norm it broke ("the commit message doesn't reflect X" -> "the
   commit message must reflect X");
2. only clauses stated in general form are kept (`is_general`: an imperative with always, never,
   don't, no, avoid, prefer, instead, keep, only, make sure...; "I prefer / I'd rather / I don't want /
   I dislike"; a norm "the X must ..."), no sentence fragment ("because ..."), and none naming a
   task-specific entity (a path, a file name other than well-known ones such as `__init__.py` or
   `CLAUDE.md`, an id, a long number);
3. the clauses are embedded with the search model (vault.index.embeddings, local) and clustered
   (average-linkage agglomerative on cosine similarity plus a bonus per shared content word,
   `threshold`);
4. each cluster that is a standing preference (`is_standing`: stated in at least `MIN_SESSIONS` (2) sessions,
   restated in substance in another session, or in a correction that says it stands: "again", "remember", or
   the clause itself, "always", "each time", "don't ... anything", "in this repo, ...") becomes one rule,
   phrased as a CLAUDE.md instruction (`state_rule`) from its most representative clause (the medoid), with
   support = the number of distinct corrections and their msg_ids as examples. A one-session remark with no
   such cue is a task detail, not a standing preference.
The persona text is the rules as a short list, most supported first. Rows a person edited
(`personas.edited`) are never overwritten.

Anthropic backend (opt-in, paid): Claude reads a role's corrections (redacted, the latest 200)
and states the rules itself, citing the corrections behind each (support = how many it cites).

The modules: `clauses` (step 1), `rule_form` (`is_general`, `state_rule`), `clustering` and `extractive` (steps
3-4), `rules` (`Rule`, `is_standing`, `restrict_rule`), `llm_rules` (the LLM backend), `render` (`persona_text`,
`claude_md`), `build` (`build_personas`; the rows through miner.tables).
"""

from __future__ import annotations

from miner.personas.build import build_personas, role_feedback
from miner.personas.clauses import Clause, clauses_of, clean_clause, is_bare_question, marked_clauses
from miner.personas.clustering import cluster, overlap_bonus, stems
from miner.personas.extractive import ECHO, MAX_CLAUSES, MAX_RULES, THRESHOLD, rules_for
from miner.personas.llm_rules import PERSONA_PROMPT_VERSION, llm_rules
from miner.personas.render import claude_md, persona_text
from miner.personas.rule_form import is_general, is_imperative, state_rule
from miner.personas.rules import MIN_SESSIONS, Rule, is_standing, restrict_rule, rule_from_dict
from miner.tables import load_personas  # the personas' readers import it from here

__all__ = [
    "ECHO", "MAX_CLAUSES", "MAX_RULES", "MIN_SESSIONS", "PERSONA_PROMPT_VERSION", "THRESHOLD", "Clause", "Rule",
    "build_personas", "claude_md", "clauses_of", "clean_clause", "cluster", "is_bare_question", "is_general",
    "is_imperative", "is_standing", "llm_rules", "load_personas", "marked_clauses", "overlap_bonus",
    "persona_text", "restrict_rule", "role_feedback", "rule_from_dict", "rules_for", "state_rule", "stems",
]
