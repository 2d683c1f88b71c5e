"""The embedded queue's result cache: one JSON file per finished render under DATA_DIR, kept CACHE_TTL_SECONDS.

Records hold audio file *names*, never URLs, so the public base URL can change without a flush. The files make
the cache survive restarts; an in-memory index (render id → expiry) answers "is it cached?" without touching the
disk, and a small LRU of parsed records keeps the hot path (a repeated request) free of JSON parsing.
An entry's age is its file's modification time, so loading the index at start-up is one ``stat`` per entry.
"""

import hashlib
import logging
import shutil
import threading
import time
from collections import OrderedDict
from pathlib import Path

from pydantic import ValidationError

from avatar_service.schemas import RenderRecord

_LOGGER = logging.getLogger(__name__)

RECORD_SUFFIX = ".json"
# Parsed records kept in memory. Measured ~0.5 KB per cue: ~50 KB for a 300-character text, ~25 MB for 512 such.
HOT_RECORDS = 512


class ResultCache:
    """Finished renders by render id. Thread-safe: renders finish on worker threads, reads happen on the loop."""

    def __init__(self, records_dir: Path, audio_dir: Path, ttl_seconds: float, hot_records: int = HOT_RECORDS):
        self.records_dir = records_dir
        self.audio_dir = audio_dir
        self.ttl_seconds = ttl_seconds
        self._hot_capacity = hot_records
        self._expiry: dict[str, float] = {}
        self._hot: OrderedDict[str, RenderRecord] = OrderedDict()
        self._lock = threading.Lock()

    def load(self) -> None:
        """Index the records on disk (after a restart) and drop the expired ones."""
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        expiry: dict[str, float] = {}
        for path in self.records_dir.glob("*" + RECORD_SUFFIX):
            try:
                expiry[path.stem] = path.stat().st_mtime + self.ttl_seconds
            except FileNotFoundError:
                continue
        with self._lock:
            self._expiry = expiry
            self._hot.clear()
        removed = self.purge_expired()
        _LOGGER.info("result cache: %d entries in %s (%d expired removed)", len(self), self.records_dir, removed)

    def __len__(self) -> int:
        return len(self._expiry)

    def get(self, render_id: str) -> RenderRecord | None:
        """The cached record, or None when absent or expired (an expired entry is removed on the spot, so a
        re-render of the same id can never race with the clean-up of its old files)."""
        with self._lock:
            expires_at = self._expiry.get(render_id)
            if expires_at is None:
                return None
            if expires_at <= time.time():
                self._remove_locked(render_id)
                return None
            record = self._hot.get(render_id)
            if record is not None:
                # One stat: a file deleted or truncated behind our back makes this a miss, not a dead URL.
                problem = audio_problem(record, self.audio_dir, check_hash=False)
                if problem is None:
                    self._hot.move_to_end(render_id)
                    return record
                _LOGGER.warning("dropping cache entry %s: %s", render_id, problem)
                self._remove_locked(render_id)
                return None
            record = self._read_locked(render_id)
            if record is not None:
                self._remember_locked(record)
            return record

    def put(self, record: RenderRecord) -> None:
        """Store a finished render (its audio file must already be in the audio directory)."""
        data = record.model_dump_json().encode()
        path = self._record_path(record.render_id)
        partial = path.with_name(f".{path.name}.{threading.get_ident()}.partial")
        with self._lock:
            self.records_dir.mkdir(parents=True, exist_ok=True)
            _clear_non_file(path)
            try:
                partial.write_bytes(data)
                partial.replace(path)  # atomic: a restart sees the whole record or none
            except OSError:
                partial.unlink(missing_ok=True)  # e.g. a full disk: leave nothing half-written behind
                raise
            self._expiry[record.render_id] = time.time() + self.ttl_seconds
            self._remember_locked(record)

    def purge_expired(self) -> int:
        """Remove expired records with their audio files, and audio files no record has owned for a whole TTL
        (left by a crash between writing audio and its record, or by a failed job). Returns records removed."""
        now = time.time()
        with self._lock:
            expired = [render_id for render_id, expires_at in self._expiry.items() if expires_at <= now]
            for render_id in expired:
                self._remove_locked(render_id)
        # The directory scan runs unlocked (it can be long); each removal re-checks under the lock, because a
        # render of the same id may have rewritten the file meanwhile.
        for audio in self._old_files(self.audio_dir, now):
            with self._lock:
                if _render_id_of(audio) not in self._expiry and _is_old(audio, self.ttl_seconds, now):
                    audio.unlink(missing_ok=True)
        for leftover in self._old_files(self.records_dir, now):
            if leftover.name.endswith(".partial"):  # a record write cut short by a crash
                leftover.unlink(missing_ok=True)
        return len(expired)

    def _old_files(self, directory: Path, now: float) -> list[Path]:
        try:
            return [entry for entry in directory.iterdir() if _is_old(entry, self.ttl_seconds, now)]
        except FileNotFoundError:
            return []

    def _record_path(self, render_id: str) -> Path:
        return self.records_dir / f"{render_id}{RECORD_SUFFIX}"

    def _read_locked(self, render_id: str) -> RenderRecord | None:
        path = self._record_path(render_id)
        try:
            record = RenderRecord.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            self._expiry.pop(render_id, None)
            return None
        except (OSError, ValidationError) as error:  # not a file, unreadable, or not a record: a miss
            _LOGGER.warning("dropping unreadable cache record %s: %s", path, error)
            self._remove_locked(render_id)
            return None
        problem = audio_problem(record, self.audio_dir)
        if problem is not None:
            _LOGGER.warning("dropping cache record %s: %s", path, problem)
            self._remove_locked(render_id)
            return None
        return record

    def _remember_locked(self, record: RenderRecord) -> None:
        self._hot[record.render_id] = record
        self._hot.move_to_end(record.render_id)
        while len(self._hot) > self._hot_capacity:
            self._hot.popitem(last=False)

    def _remove_locked(self, render_id: str) -> None:
        self._expiry.pop(render_id, None)
        self._hot.pop(render_id, None)
        _clear_non_file(self._record_path(render_id))
        self._record_path(render_id).unlink(missing_ok=True)
        # Audio files are named by render id (<id>.ogg or the WAV fallback <id>.wav).
        for suffix in (".ogg", ".wav"):
            (self.audio_dir / f"{render_id}{suffix}").unlink(missing_ok=True)


def storage_problem(data_dir: Path, min_free_bytes: float) -> str | None:
    """Why DATA_DIR cannot take new renders (full disk, missing), or None; for /health."""
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError as error:
        return f"DATA_DIR {data_dir} unusable ({type(error).__name__}: {error})"
    if free < min_free_bytes:
        return f"DATA_DIR {data_dir} has {free / 1e6:.1f} MB free, under MIN_FREE_DISK_MB ({min_free_bytes / 1e6:g})"
    return None


def with_audio_digest(record: RenderRecord, audio_dir: Path) -> RenderRecord:
    """The record with its audio file's size and SHA-256 (read back from disk: what readers will get)."""
    data = (audio_dir / record.audio_file).read_bytes()
    return record.model_copy(update={"audio_size": len(data), "audio_sha256": hashlib.sha256(data).hexdigest()})


def audio_problem(record: RenderRecord, audio_dir: Path, check_hash: bool = True) -> str | None:
    """Why the record's audio cannot be served as this record's (missing, other size or content), or None."""
    path = audio_dir / record.audio_file
    try:
        size = path.stat().st_size
    except OSError as error:
        return f"audio file {record.audio_file} unreadable ({type(error).__name__})"
    if record.audio_size is not None and size != record.audio_size:
        return f"audio file {record.audio_file} is {size} bytes, the record says {record.audio_size}"
    if check_hash and record.audio_sha256 is not None:
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as error:
            return f"audio file {record.audio_file} unreadable ({type(error).__name__})"
        if digest != record.audio_sha256:
            return f"audio file {record.audio_file} does not match the record's SHA-256 (another run wrote it)"
    return None


def _render_id_of(path: Path) -> str:
    """``<id>.ogg``, ``<id>.wav`` and their ``.<id>.ogg.partial`` leftovers all belong to ``<id>``."""
    return path.name.lstrip(".").split(".")[0]


def _clear_non_file(path: Path) -> None:
    """Remove a directory (or other non-file) squatting on a path the cache owns, so writes can replace it."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)


def _is_old(path: Path, ttl_seconds: float, now: float) -> bool:
    try:
        return path.is_file() and path.stat().st_mtime + ttl_seconds <= now
    except FileNotFoundError:
        return False
