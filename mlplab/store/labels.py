"""What a user says about runs and sweeps after they ran: names, tags and notes (the store's half).

Tags live in their own tables (run_tags, sweep_tags: one row per tag, migration 4), a note in the row's
`note` column. Every value is checked here, once, for the CLI, the API and the dashboard alike:

- a tag: 1-40 characters, letters, digits and - _ . (as TAG_RULE says);
- a note: text up to MAX_NOTE characters (empty clears it);
- a name: 1-MAX_NAME characters without control characters (a spec's name may be any text; a name
  shown in every list must fit on a line).

A store read-only, or older than migration 4 and read where it cannot be migrated, reads as untagged.
"""
from __future__ import annotations

import re

from ..errors import BadInput

TAG = re.compile(r"[A-Za-z0-9_.-]{1,40}")
TAG_RULE = "1-40 characters: letters, digits, '-', '_' and '.'"
MAX_NOTE = 10_000
MAX_NAME = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TAG_CHUNK = 500   # ids per query (SQLite's limit on a statement's parameters is 999 in old builds)
KINDS = {"run": ("runs", "run_tags", "run_id"), "sweep": ("sweeps", "sweep_tags", "sweep_id")}


def check_tags(tags) -> list[str]:
    """The tags, each checked, without repeats, in the order given (BadInput on the first bad one)."""
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not TAG.fullmatch(tag):
            raise BadInput(f"tag {str(tag)[:60]!r}: expected {TAG_RULE}")
        if tag not in out:
            out.append(tag)
    return out


def split_tags(text: str) -> list[str]:
    """A typed list of tags ('keep, best  adam') -> the tags, checked."""
    return check_tags([t for t in re.split(r"[\s,]+", text or "") if t])


def check_note(text) -> str:
    if not isinstance(text, str):
        raise BadInput(f"note {text!r}: expected text")
    text = text.strip()
    if len(text) > MAX_NOTE or "\0" in text:
        raise BadInput(f"note of {len(text)} characters: expected at most {MAX_NOTE} characters of text")
    return text


def check_name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME or CONTROL.search(name):
        shown = name[:60] + "..." if isinstance(name, str) and len(name) > 60 else name
        raise BadInput(f"name {shown!r}: expected 1-{MAX_NAME} characters without line breaks or control characters")
    return name.strip()


class Labels:
    """The labelling half of a Store (mixed into it, as StoredHealth): names, tags and notes of runs and sweeps."""

    def _has_tags(self) -> bool:
        """Does this store have the tag tables (a read-only store may be older than migration 4)?"""
        if "_tag_tables" not in self.__dict__:
            self.__dict__["_tag_tables"] = bool(self._query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_tags'"))
        return self.__dict__["_tag_tables"]

    def tags_of(self, kind: str, ids: list[str] | None = None) -> dict[str, list[str]]:
        """{id: its tags, sorted} for these runs or sweeps (every one when ids is None)."""
        _, table, col = KINDS[kind]
        if not self._has_tags():
            return {}
        sql = f"SELECT {col} AS id, tag FROM {table}"
        if ids is None:
            rows = self._query(f"{sql} ORDER BY tag")
        else:   # only these ids' rows (a run's page reads its own tags, not the store's), in chunks SQLite takes
            rows = []
            for i in range(0, len(ids), TAG_CHUNK):
                chunk = list(ids[i:i + TAG_CHUNK])
                rows += self._query(f"{sql} WHERE {col} IN ({','.join('?' * len(chunk))}) ORDER BY tag", chunk)
        tags: dict[str, list[str]] = {}
        for r in rows:
            tags.setdefault(r["id"], []).append(r["tag"])
        return tags

    def all_tags(self, kind: str = "run") -> list[str]:
        """Every tag in use on runs (or sweeps), sorted."""
        _, table, _ = KINDS[kind]
        return [r[0] for r in self._query(f"SELECT DISTINCT tag FROM {table} ORDER BY tag")] if self._has_tags() else []

    def tag(self, kind: str, ref: str, add=(), remove=()) -> list[str]:
        """Add and remove tags of a run or sweep (`ref`: an id, a unique prefix, 'last'); its tags after."""
        the_id = self._resolve_kind(kind, ref)
        add, remove = check_tags(list(add)), check_tags(list(remove))
        _, table, col = KINDS[kind]
        with self._tx() as c:
            c.executemany(f"INSERT OR IGNORE INTO {table} ({col}, tag) VALUES (?, ?)", [(the_id, t) for t in add])
            c.executemany(f"DELETE FROM {table} WHERE {col} = ? AND tag = ?", [(the_id, t) for t in remove])
        return self.tags_of(kind, [the_id]).get(the_id, [])

    def set_tags(self, kind: str, ref: str, tags) -> list[str]:
        """Replace the tags of a run or sweep with these."""
        the_id = self._resolve_kind(kind, ref)
        tags = check_tags(list(tags))
        _, table, col = KINDS[kind]
        with self._tx() as c:
            c.execute(f"DELETE FROM {table} WHERE {col} = ?", (the_id,))
            c.executemany(f"INSERT INTO {table} ({col}, tag) VALUES (?, ?)", [(the_id, t) for t in tags])
        return tags

    def note(self, kind: str, ref: str, text: str) -> str:
        """Set the note of a run or sweep (empty text removes it); the note kept."""
        return self._set(kind, ref, "note", check_note(text) or None) or ""

    def rename(self, kind: str, ref: str, name: str) -> str:
        """Give a run or sweep another name; the name kept."""
        return self._set(kind, ref, "name", check_name(name))

    def _set(self, kind: str, ref: str, column: str, value):
        the_id = self._resolve_kind(kind, ref)
        table = KINDS[kind][0]
        with self._tx() as c:
            c.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, the_id))
        return value

    def _resolve_kind(self, kind: str, ref: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: expected run or sweep")
        return self.resolve(ref) if kind == "run" else self.resolve_sweep(ref)

    def _labelled(self, kind: str, rows: list[dict]) -> list[dict]:
        """Decoded rows with their `tags` (a list) and `note` (text, '' when none)."""
        tags = self.tags_of(kind, [r["id"] for r in rows]) if rows else {}
        for r in rows:
            r["tags"] = tags.get(r["id"], [])
            r["note"] = r.get("note") or ""
        return rows


def tag_filter(kind: str, tag: str) -> tuple[str, list]:
    """The SQL condition (and its argument) that keeps the runs or sweeps carrying `tag`."""
    table, tags, col = KINDS[kind]
    check_tags([tag])
    return f"EXISTS (SELECT 1 FROM {tags} WHERE {tags}.{col} = {table}.id AND {tags}.tag = ?)", [tag]
