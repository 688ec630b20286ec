"""The layer both stages stand on: the HEAR task bundle format as code, and generic utilities.

`hearpreprocess` (writes bundles) and `heareval` (reads them) both import this package; it imports
neither. What lives here is either a fact of the bundle format (`format`, `bundle`, `tarball`) or
a utility with no knowledge of tasks, recipes or models (`atomic`, `hashing`, `allocator`,
`signal`, `download`, `archive`).
"""

# The package version names the tarballs (hear-<version>-<bundle>-<sr>.tar.gz) and their root.
__version__ = "2026.1.0"
