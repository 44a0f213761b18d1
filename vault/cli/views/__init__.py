"""Terminal rendering of what the library returns: the library never prints, the CLI does it here.

Each view takes a rich console and a report (the dict or dataclass a library function returned) and
prints it; nothing here queries the vault.
"""
