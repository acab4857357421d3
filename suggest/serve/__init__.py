"""The editor's page and JSON API (`suggest serve`), and the feedback the ranking remembers.

`feedback` (the SQLite store), `drafts` (a pasted or uploaded draft to a `Check`) and `lists`
(an article's list with the feedback applied) need only the core dependencies: `suggest for`
uses them too. `app` needs the ``serve`` extra (FastAPI, uvicorn, python-multipart,
python-docx).
"""
