"""Steps that fetch and unpack raw archives, keyed by md5 only.

Every mode and task built from the same archive shares one download and one extraction: the step
parameters that enter the Luigi task id are the md5, the file name and the work dir, so Luigi
schedules the archive once however many bundles need it.
"""

from __future__ import annotations

from pathlib import Path

import luigi

from hearpreprocess import builtin
from hearpreprocess.archive import extract_archive
from hearpreprocess.atomic import atomic_path
from hearpreprocess.download import download
from hearpreprocess.pipeline.base import PipelineError, record_failure


class DownloadSettings(luigi.Config):
    """[download] section of luigi.cfg: retry policy of every download."""

    retries = luigi.IntParameter(default=5, config_path={"section": "download", "name": "retries"})
    backoff = luigi.FloatParameter(
        default=1.0, config_path={"section": "download", "name": "backoff"}
    )
    timeout = luigi.FloatParameter(
        default=60.0, config_path={"section": "download", "name": "timeout"}
    )


class _ArchiveStep(luigi.Task):
    md5 = luigi.Parameter()
    filename = luigi.Parameter()
    work_dir = luigi.Parameter()
    url = luigi.Parameter(significant=False)
    task_name = luigi.Parameter(significant=False, default="")
    mirror = luigi.Parameter(default="", significant=False)
    builtin_mirror = luigi.Parameter(default="", significant=False)

    def on_failure(self, exception: BaseException) -> str:
        record_failure(self.task_name, type(self).__name__, exception)
        return super().on_failure(exception)


class DownloadedArchive(_ArchiveStep):
    """work_dir/downloads/<md5>/<filename>, md5-verified.

    download() keeps its partial file beside the target and resumes it with HTTP Range, so a rerun
    after a cut connection continues where it stopped.
    """

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.work_dir) / "downloads" / self.md5 / self.filename))

    def run(self) -> None:
        url = builtin.resolve_url(self.url, self.mirror or None, self.builtin_mirror or None)
        dest = Path(self.output().path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        settings = DownloadSettings()
        download(
            url,
            dest,
            self.md5,
            retries=settings.retries,
            backoff=settings.backoff,
            timeout=settings.timeout,
        )


class ExtractedArchive(_ArchiveStep):
    """work_dir/extracted/<md5>/: the archive's contents, the folder renamed into place."""

    def requires(self) -> DownloadedArchive:
        return self.clone(DownloadedArchive)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.work_dir) / "extracted" / self.md5))

    def run(self) -> None:
        archive = Path(self.input().path)
        try:
            with atomic_path(self.output().path) as tmp:
                tmp.mkdir()
                extract_archive(archive, tmp)
        except Exception as e:
            raise PipelineError(
                f"task {self.task_name}: {archive} matched its md5 {self.md5} but could not be "
                f"extracted ({e}). Check the md5 pinned in the recipe for {self.url}; if it is "
                f"right, delete {archive} and rerun."
            ) from e
