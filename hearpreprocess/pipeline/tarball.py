"""TaskTarball (one per sample rate) and AllTasks, the single entry point of a run."""

from __future__ import annotations

import os
from pathlib import Path

import luigi
from luigi.freezing import recursively_unfreeze

from hearpreprocess import __version__, bundle
from hearpreprocess.pipeline.base import RunSettings, TaskStep
from hearpreprocess.pipeline.bundle import MANIFEST, BundleTarget, TaskBundle


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
        manifest = Path(self.bundle.path) / MANIFEST
        try:
            return os.stat(self.path).st_mtime_ns >= os.stat(manifest).st_mtime_ns
        except OSError:
            return False


class TaskTarball(TaskStep):
    """tar_dir/hear-<version>-<bundle>-<sr>.tar.gz, rooted at hear-<version>/tasks/."""

    sample_rate = luigi.IntParameter()

    def requires(self) -> TaskBundle:
        return self.clone(TaskBundle)

    def output(self) -> TarballTarget:
        name = f"hear-{__version__}-{self.bundle_name}-{self.sample_rate}.tar.gz"
        return TarballTarget(str(Path(self.tar_dir) / name), self.requires().output())

    def run(self) -> None:
        bundle.write_tarball(
            Path(self.input().path),
            self.sample_rate,
            self.output().path,
            root=f"hear-{__version__}/tasks",
        )


class AllTasks(RunSettings, luigi.WrapperTask):
    """Every bundle (and its tarballs) asked for in one run."""

    configs = luigi.ListParameter(description="TaskConfig.to_dict() of every task and mode")
    tarballs = luigi.BoolParameter(default=True)

    def requires(self) -> list[luigi.Task]:
        return [step for steps in self.steps_per_config() for step in steps]

    def steps_per_config(self) -> list[list[luigi.Task]]:
        """For each config, in order, the steps that build what was asked for it."""
        per_config = []
        for frozen in self.configs:
            config = recursively_unfreeze(frozen)
            if self.tarballs:
                per_config.append(
                    [
                        self.clone(TaskTarball, config=config, sample_rate=sr)
                        for sr in self.sample_rates
                    ]
                )
            else:
                per_config.append([self.clone(TaskBundle, config=config)])
        return per_config
