"""ocisim's layering rules (docs/architecture.md, "ocisim's layering"), read from the source: compute and the
agent change block storage's rows only through the block storage backend's methods, faults reach a backend as an
argument (no thread-local side channel), and the fault kinds are acted on only in faults.py."""

from __future__ import annotations

import ast
from pathlib import Path

import ocisim

ROOT = Path(ocisim.__file__).parent
BLOCK_STORAGE_KINDS = {"volume", "bootvolume", "volumebackup", "bootvolumebackup", "volumegroup",
                       "volumegroupbackup"}
WRITES = {"put", "schedule", "delete"}
MUTATORS = {"update", "pop", "setdefault", "clear", "__setitem__"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _kinds(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _is_block_storage_read(value: ast.AST, name: str) -> bool:
    """A row read from the store that is block storage's: by its kind, or found by id under a volume's name."""
    if not isinstance(value, ast.Call):
        return False
    func = _dotted(value.func)
    if func.startswith("self.blockstorage."):
        return True
    if func in ("self.store.get", "self.store.list", "self.get"):
        return bool(_kinds(value.args[0]) & BLOCK_STORAGE_KINDS) if value.args else False
    if func == "self.store.find":
        return any(word in name for word in ("volume", "boot", "backup"))
    return False


def block_storage_writes(source: str, filename: str = "<source>") -> list[str]:
    """Where code writes a block storage row it read (a store write of it, an item set, an update/pop)."""
    found = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        rows = {t.id for node in ast.walk(fn) if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name) and _is_block_storage_read(node.value, t.id)}
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                func = _dotted(node.func)
                if func.rsplit(".", 1)[0] == "self.store" and func.rsplit(".", 1)[1] in WRITES and node.args \
                        and isinstance(node.args[0], ast.Name) and node.args[0].id in rows:
                    found.append(f"{filename}:{node.lineno} {func}({node.args[0].id})")
                if isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                        and isinstance(node.func.value, ast.Name) and node.func.value.id in rows:
                    found.append(f"{filename}:{node.lineno} {node.func.value.id}.{node.func.attr}(...)")
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in rows:
                        found.append(f"{filename}:{node.lineno} {t.value.id}[...] = ...")
    return found


def test_the_check_finds_a_write_into_a_block_storage_row():
    bad = (
        "def attach(self, volume_id):\n"
        "    volume = self.store.get(('volume', 'bootvolume'), volume_id)\n"
        "    volume['lifecycle_state'] = 'IN_USE'\n"
        "    self.store.put(volume)\n"
        "    boot = self.blockstorage.get_boot_volume(volume_id)\n"
        "    boot.update(size_in_gbs=1)\n"
    )
    assert len(block_storage_writes(bad)) == 3
    good = (
        "def attach(self, instance_id, volume_id):\n"
        "    volume = self.store.get(('volume', 'bootvolume'), volume_id)\n"
        "    instance = self.store.get('instance', instance_id)\n"
        "    instance['_boot_volume_id'] = volume['id']\n"
        "    self.store.put(instance)\n"
        "    self.blockstorage.set_blocks(volume_id, {})\n"
    )
    assert block_storage_writes(good) == []


def test_compute_and_the_agent_change_block_storage_only_through_its_methods():
    files = [*sorted((ROOT / "backend" / "compute").glob("*.py")), ROOT / "backend" / "agent.py"]
    assert len(files) >= 6
    found = [w for path in files for w in block_storage_writes(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], "write through the block storage backend's methods instead"


def test_no_side_channel_between_layers():
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text())
        dotted = {_dotted(n) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert "threading.local" not in dotted, f"{path.relative_to(ROOT)}: a thread-local between layers"
        assert not any(d.endswith("ctx.extra") for d in dotted), f"{path.relative_to(ROOT)}: ctx.extra"


def test_fault_kinds_are_acted_on_only_in_faults_py():
    from ocisim.faults import KINDS

    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "faults.py":
            continue
        tree = ast.parse(path.read_text())
        compared = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)
                    and any(isinstance(c, ast.Attribute) and c.attr == "kind" for c in [n.left, *n.comparators])
                    and _kinds(n) & KINDS]
        assert compared == [], f"{path.relative_to(ROOT)}: a fault kind handled outside faults.py"
