"""TaskTarball (one per sample rate) and AllTasks, the single entry point of a run."""

from __future__ import annotations

import os
from pathlib import Path

import luigi
from luigi.freezing import recursively_unfreeze

from hearcore.format import MANIFEST_FILE, tarball_name
from hearcore.tarball import write_tarball
from hearpreprocess.pipeline.audio import shard_members
from hearpreprocess.pipeline.base import TaskStep
from hearpreprocess.pipeline.bundle import BundleTarget, TaskBundle


class TarballTarget(luigi.LocalTarget):
    """A tarball that exists only if its bundle is up to date and the tarball is newer than the
    bundle's manifest.

    The tarball name is fixed by the format, so its identity cannot be in the path. Its content is
    a pure function of the bundle, and the bundle's manifest is rewritten whenever the bundle is
    rebuilt: a tarball older than the manifest was made from an earlier bundle. (Luigi checks only
    a step's own output, so the bundle's identity has to be checked here too.)
    """

    def __init__(self, path: str, bundle: BundleTarget):
        super().__init__(path)
        self.bundle = bundle

    def exists(self) -> bool:
        if not self.bundle.exists():
            return False
        manifest = Path(self.bundle.path) / MANIFEST_FILE
        try:
            return os.stat(self.path).st_mtime_ns >= os.stat(manifest).st_mtime_ns
        except OSError:
            return False


class TaskTarball(TaskStep):
    """tar_dir/hear-<version>-<bundle>-<sr>.tar.gz, rooted at hear-<version>/tasks/.

    Its bytes are those of its bundle's files (the manifest lists every rate), so it is keyed by
    what keys the bundle, its rate and tar_dir; where the bundle lies (tasks_dir) does not shape it.
    """

    sample_rate = luigi.IntParameter()
    tar_dir = luigi.Parameter()
    tasks_dir = luigi.Parameter(significant=False)
    tar_members = luigi.BoolParameter(default=True, significant=False)  # passed to the bundle

    def requires(self) -> TaskBundle:
        names = TaskBundle.get_param_names(include_significant=True)  # all of them
        return TaskBundle(**{name: self.param_kwargs[name] for name in names})

    def output(self) -> TarballTarget:
        name = tarball_name(self.bundle_name, self.sample_rate)
        return TarballTarget(str(Path(self.tar_dir) / name), self.requires().output())

    def run(self) -> None:
        members = {}
        for split, shards in self.requires().audio_shards().items():
            for shard in shards:
                members.update(shard_members(Path(shard.output().path), split, self.sample_rate))
        write_tarball(
            Path(self.input().path), self.sample_rate, self.output().path, precompressed=members
        )
        # The members are in the tarball now; keeping them would hold its size twice on disk.
        # Another tarball of these shards (another --tar-dir) compresses again, to equal bytes.
        for path in {m.path for m in members.values()}:
            path.unlink(missing_ok=True)


class AllTasks(luigi.WrapperTask):
    """Every bundle (and its tarballs) asked for in one run: the run's settings."""

    configs = luigi.ListParameter(description="TaskConfig.to_dict() of every task and mode")
    sample_rates = luigi.ListParameter()
    work_dir = luigi.Parameter()
    tasks_dir = luigi.Parameter()
    tar_dir = luigi.Parameter()
    resampler = luigi.Parameter(default="soxr")
    tarballs = luigi.BoolParameter(default=True)
    mirror = luigi.Parameter(default="", significant=False)
    builtin_mirror = luigi.Parameter(default="", significant=False)

    def requires(self) -> list[luigi.Task]:
        return [step for steps in self.steps_per_config() for step in steps]

    def bundles(self) -> list[TaskBundle]:
        """The bundle step of each config, in order."""
        first = [steps[0] for steps in self.steps_per_config()]
        return [s if isinstance(s, TaskBundle) else s.requires() for s in first]

    def steps_per_config(self) -> list[list[luigi.Task]]:
        """For each config, in order, the steps that build what was asked for it."""
        per_config: list[list[luigi.Task]] = []
        for frozen in self.configs:
            bundle = TaskBundle(
                config=recursively_unfreeze(frozen),
                sample_rates=self.sample_rates,
                resampler=self.resampler,
                tasks_dir=self.tasks_dir,
                tar_members=self.tarballs,
                work_dir=self.work_dir,
                mirror=self.mirror,
                builtin_mirror=self.builtin_mirror,
            )
            if not self.tarballs:
                per_config.append([bundle])
                continue
            per_config.append(
                [
                    TaskTarball(sample_rate=sr, tar_dir=self.tar_dir, **bundle.param_kwargs)
                    for sr in self.sample_rates
                ]
            )
        return per_config


class AllSplits(AllTasks):
    """The split steps of every bundle of a run (the first round on a shared luigid). As a
    root that waits for them, it keeps a worker alive while another host runs a split step."""

    def requires(self) -> list[luigi.Task]:
        return [bundle.split_step() for bundle in self.bundles()]
