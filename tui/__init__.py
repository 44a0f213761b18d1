"""`vault tui`: browse, search and review the vault in the terminal (Textual).

`tui.app.make_app(db_path)` builds the application for the CLI and the tests alike.
"""
