"""Fetch HEAR 2021's published task bundles from Zenodo: `python -m heareval.tasks fetch TASK`.

Modules: `zenodo` reads a Zenodo record (the list of task tarballs, their sizes and md5s),
`plan` resolves the asked tasks against it and checks what is already there and the disk space,
`fetch` downloads, verifies, unpacks and records each tarball. `__main__` is the CLI.
"""

# The "2021.3" revision: every HEAR 2021 task at 48 kHz, with vocal_imitation and the updated
# TFDS-based tasks. Earlier revisions of the same upload are 5885750, 5887964 and 5802571.
DEFAULT_RECORD = "6332517"
OLDER_RECORDS = ("5885750", "5887964", "5802571")
