"""Steps that fetch a task's sources and lay each out as one folder, keyed by checksums only.

Every mode and task built from the same files shares one download and one folder: the step
parameters that enter the Luigi task id say which files (checksums and file names; for a folder
its kind, and the URLs, which no two tasks pin differently for one checksum) and the work dir,
never the task, mode, rates or output folders. So Luigi schedules a source once however many
bundles need it (mridangam_stroke and mridangam_tonic read one extraction of one zip).
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import luigi

from hearcore.archive import MissingToolError, NoSpaceForArchiveError, extract_archive
from hearcore.atomic import atomic_path, link_or_copy
from hearcore.download import download
from hearcore.hashing import digest
from hearpreprocess import builtin
from hearpreprocess.members import scan_and_extract
from hearpreprocess.pipeline.base import SHORT_DIGEST, PipelineError, WorkStep
from hearpreprocess.sources import Source, url_filename
from hearpreprocess.sourceview import write_view_records


class DownloadSettings(luigi.Config):
    """[download] section of luigi.cfg: retry policy of every download."""

    retries = luigi.IntParameter(default=5, config_path={"section": "download", "name": "retries"})
    backoff = luigi.FloatParameter(
        default=1.0, config_path={"section": "download", "name": "backoff"}
    )
    timeout = luigi.FloatParameter(
        default=60.0, config_path={"section": "download", "name": "timeout"}
    )
    file_list_workers = luigi.IntParameter(
        default=16, config_path={"section": "download", "name": "file_list_workers"}
    )


class DownloadedFile(WorkStep):
    """work_dir/downloads/<checksum>/<filename>, checksum-verified.

    download() keeps its partial file beside the target and resumes it with HTTP Range, so a rerun
    after a cut connection continues where it stopped.
    """

    checksum = luigi.Parameter()
    filename = luigi.Parameter()
    url = luigi.Parameter(significant=False)

    def output(self) -> luigi.LocalTarget:
        path = Path(self.work_dir) / "downloads" / self.checksum / self.filename
        return luigi.LocalTarget(str(path))

    def failure_details(self) -> dict:
        return {"url": self.url, "checksum": self.checksum}

    def run(self) -> None:
        url = builtin.resolve_url(self.url, self.mirror or None, self.builtin_mirror or None)
        dest = Path(self.output().path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        settings = DownloadSettings()
        download(
            url,
            dest,
            self.checksum,
            retries=settings.retries,
            backoff=settings.backoff,
            timeout=settings.timeout,
        )


class SourceFolder(WorkStep):
    """work_dir/sources/<kind>-<id>/: one source laid out as the folder its recipe reads."""

    kind = luigi.Parameter()
    remotes = luigi.ListParameter(description="[url, checksum] of every file to download")
    extract_first = luigi.ListParameter(
        default=(), description="glob patterns: extract only these members (see sources.py)"
    )

    def requires(self) -> list[DownloadedFile]:
        return [
            DownloadedFile(
                checksum=checksum, filename=url_filename(url), url=url, **self.passed_on()
            )
            for url, checksum in self.remotes
        ]

    def output(self) -> luigi.LocalTarget:
        checksums = [checksum for _, checksum in self.remotes]
        name = checksums[0] if len(checksums) == 1 else digest(checksums)[:SHORT_DIGEST]
        if self.extract_first:  # not the whole archive: never the folder of a full extraction
            name += f"-first-{digest(list(self.extract_first))[:SHORT_DIGEST]}"
        return luigi.LocalTarget(str(Path(self.work_dir) / "sources" / f"{self.kind}-{name}"))

    def failure_details(self) -> dict:
        return {"url": self.remotes[-1][0], "checksum": self.remotes[-1][1]}

    def run(self) -> None:
        files = [Path(t.path) for t in self.input()]
        if self.kind == "file_list":
            self._fetch_listed_files(files[0])
            return
        try:
            with atomic_path(self.output().path) as tmp:
                tmp.mkdir()
                if self.kind == "archive" and self.extract_first:
                    _extract_first(files[0], tmp, list(self.extract_first))
                elif self.kind == "archive":
                    extract_archive(files[0], tmp)
                elif self.kind == "multipart_zip":
                    from hearpreprocess.multipart import extract_multipart_zip

                    extract_multipart_zip(files, tmp)
                elif self.kind == "file":
                    link_or_copy(files[0], tmp / files[0].name)
                else:
                    raise PipelineError(f"task {self.task_name}: unknown source kind {self.kind}")
        except PipelineError:
            raise
        except (MissingToolError, NoSpaceForArchiveError) as e:  # the files are fine: say what
            raise PipelineError(f"task {self.task_name}: {e}") from e  # to install or to free
        except Exception as e:
            names = ", ".join(str(f) for f in files)
            raise PipelineError(
                f"task {self.task_name}: {names} matched the pinned checksums but could not be "
                f"unpacked as a {self.kind} ({e}). Check the checksums pinned in the recipe for "
                f"{self.remotes[-1][0]}; if they are right, delete the file(s) and rerun."
            ) from e

    def _fetch_listed_files(self, manifest: Path) -> None:
        from hearpreprocess.filelist import fetch_file_list, parse_manifest

        settings = DownloadSettings()
        listed = parse_manifest(manifest.read_text(encoding="utf-8"), str(manifest))
        fetch_file_list(
            listed,
            Path(self.output().path),
            mirror=self.mirror or None,
            workers=settings.file_list_workers,
            retries=settings.retries,
            backoff=settings.backoff,
            timeout=settings.timeout,
            task=self.task_name,
        )


def source_folder(source: Source, work_dir: str, **settings) -> SourceFolder:
    """The step that lays out `source` (settings: task_name, mirror, builtin_mirror)."""
    remotes = [[r.url, r.checksum] for r in source.remotes]
    return SourceFolder(
        kind=source.kind,
        remotes=remotes,
        extract_first=list(source.extract_first),
        work_dir=work_dir,
        **settings,
    )


def _extract_first(archive: Path, dest: Path, patterns: list[str]) -> None:
    """The members matching `patterns`, and the records of the folder view (sourceview.py): the
    list of every member, so that the metadata step can check the files the rows name before
    their audio is extracted, and where the archive is."""
    names = scan_and_extract(archive, dest, lambda name: any(fnmatch(name, p) for p in patterns))
    write_view_records(dest, archive, names)
