"""The embedded queue's journal: every accepted job is a file under DATA_DIR/journal until it ends.

A 202 promises a result; without a journal a crash or ``kill -9`` of ``serve`` forgot every job still queued
or running (15 of 24 in one test). Each accepted job's request is written atomically (temporary file, fsync,
rename: POSIX rename(2) replaces the name atomically) before the API answers, removed when the job completes
or fails, and replayed by the next start-up. Renders are named by content hash, so a replay renders the same
thing again; a job whose result reached the cache before the crash is simply dropped.
"""

import logging
import os
from pathlib import Path

from pydantic import ValidationError

from avatar_service.schemas import RenderRequest

_LOGGER = logging.getLogger(__name__)

SUFFIX = ".json"


class JobJournal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def add(self, render_id: str, request: RenderRequest) -> None:
        """Record an accepted job durably; raises OSError (e.g. a full disk) if it cannot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(render_id)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("wb") as file:
                file.write(request.model_dump_json().encode())
                file.flush()
                os.fsync(file.fileno())
            partial.replace(path)
        except OSError:
            partial.unlink(missing_ok=True)
            raise

    def remove(self, render_id: str) -> None:
        try:
            self._path(render_id).unlink(missing_ok=True)
        except OSError as error:  # replaying a finished job later is harmless: it is served from the cache
            _LOGGER.warning("could not remove journal entry %s: %s", render_id, error)

    def entries(self) -> list[tuple[str, RenderRequest]]:
        """Jobs accepted but not finished when the last process stopped, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*" + SUFFIX), key=_mtime):
            try:
                found.append((path.stem, RenderRequest.model_validate_json(path.read_bytes())))
            except (OSError, ValidationError) as error:
                _LOGGER.warning("dropping unreadable journal entry %s: %s", path, error)
                path.unlink(missing_ok=True)
        for leftover in self.directory.glob(".*.partial"):  # a write cut short: its job was never accepted
            leftover.unlink(missing_ok=True)
        return found

    def _path(self, render_id: str) -> Path:
        return self.directory / f"{render_id}{SUFFIX}"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
