"""KeptAudio: the audio members that the kept rows name, from sources extracted `extract_first`.

Such a source's folder holds only the metadata members (and the list of all members) when the
recipe runs. Once the splits and the mode's caps are fixed, this step extracts, in one pass over
each such tar archive, exactly the audio the bundle keeps, into the task's work folder; AudioShard
then reads those copies (`kept_path`): a 5-hour NSynth bundle writes 5,000 notes, not 289,205. A
zip is not copied at all: AudioShard reads the kept members in place, by random access
(hearpreprocess.sourceview), and this step only checks that the archive holds them.
"""

from __future__ import annotations

from pathlib import Path

import luigi

from hearcore.archive import detect_kind
from hearcore.atomic import atomic_path
from hearpreprocess.members import scan_and_extract
from hearpreprocess.pipeline.base import PipelineError, ViewStep, split_identity
from hearpreprocess.pipeline.metadata import SplitMetadata, read_split_rows, source_folders
from hearpreprocess.sourceview import listed_members


def has_kept_audio(step: ViewStep) -> bool:
    """Whether any source of the step's config is extracted `extract_first`."""
    return any(s.extract_first for s in step.task_config.sources)


class KeptAudio(ViewStep):
    """work_dir/kept/<task>-<id>/<i>/<member>: the kept audio of lazy source number i.
    `config`: config_view(cfg, SPLIT_FIELDS), as for the splits whose rows it keeps."""

    def requires(self) -> dict:
        splits = SplitMetadata(config=self.config, **self.passed_on())
        return {"splits": splits, "folders": source_folders(self)}

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.folder("kept", split_identity(self.task_config))))

    def run(self) -> None:
        rows = read_split_rows(Path(self.input()["splits"].path))
        relpaths = set(rows["relpath"].astype(str))
        with atomic_path(self.output().path) as tmp:
            tmp.mkdir()
            for i, (source, step) in enumerate(
                zip(self.task_config.sources, self.requires()["folders"])
            ):
                if not source.extract_first:
                    continue
                root = step.output().path + "/"
                wanted = {p[len(root) :] for p in relpaths if p.startswith(root)}
                archive = Path(step.requires()[0].output().path)
                if _is_zip(step):  # read in place by AudioShard
                    listed = listed_members(Path(step.output().path)) or set()
                    self._check_all_there(archive, wanted - listed, wanted)
                    continue
                scan_and_extract(archive, tmp / str(i), wanted.__contains__)
                missing = {m for m in wanted if not (tmp / str(i) / m).is_file()}
                self._check_all_there(archive, missing, wanted)

    def _check_all_there(self, archive: Path, missing: set[str], wanted: set[str]) -> None:
        if missing:
            raise PipelineError(
                f"task {self.bundle_name}: {len(missing)} of {len(wanted)} kept clip(s) are not "
                f"in {archive} although its member list names them (first: {min(missing)}); "
                "delete the archive and its folder under sources/ and rerun"
            )


def kept_roots(step: ViewStep) -> dict[str, str]:
    """{source folder + "/": kept folder + "/"} for the step's `extract_first` sources."""
    kept = KeptAudio(config=step.config, **step.passed_on()).output().path
    roots = {}
    for i, (source, folder) in enumerate(zip(step.task_config.sources, source_folders(step))):
        if source.extract_first and not _is_zip(folder):  # a zip is read in place
            roots[folder.output().path + "/"] = f"{kept}/{i}/"
    return roots


def _is_zip(folder: luigi.Task) -> bool:
    return detect_kind(Path(folder.requires()[0].output().path)) == "zip"


def kept_path(relpath: str, roots: dict[str, str]) -> str:
    """Where the audio of `relpath` is read from: its kept copy, or the path itself."""
    for root, kept in roots.items():
        if relpath.startswith(root):
            return kept + relpath[len(root) :]
    return relpath
