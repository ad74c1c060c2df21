"""llm.hf is a package of one module per job; its classes use each other through public members only."""

import ast
from pathlib import Path

import llm
import llm.hf

HF = Path(llm.hf.__file__).resolve().parent


def foreign_private_accesses(source: str) -> list[str]:
    """``Class.method: obj._name`` for every access to a private member (``_x``, not dunder) that the class
    making it does not define itself (as a method, a class attribute or ``self._x = ...``), and for every
    private access outside a class."""
    tree = ast.parse(source)
    found = []

    def private(node) -> bool:
        return isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")

    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    classes += [inner for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                for inner in node.body if isinstance(inner, ast.ClassDef)]
    inside = set()
    for cls in classes:
        own = {item.name for item in cls.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
        own |= {target.id for item in cls.body if isinstance(item, ast.Assign)
                for target in ast.walk(item) if isinstance(target, ast.Name)}
        own |= {node.attr for node in ast.walk(cls) if private(node) and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name) and node.value.id == "self"}
        for node in ast.walk(cls):
            if private(node):
                inside.add(id(node))
                if node.attr not in own:
                    found.append(f"{cls.name}: {ast.unparse(node)}")
    found += [f"module: {ast.unparse(node)}" for node in ast.walk(tree) if private(node) and id(node) not in inside]
    return found


def test_every_public_name_of_the_old_module_is_still_there():
    from llm.hf import DEFAULT_GGUF, HFModel, HFState, RaggedBatch, default_model_path  # noqa: F401

    assert llm.HFModel is HFModel and llm.default_model_path is default_model_path
    assert DEFAULT_GGUF.endswith(".gguf")
    assert {"loading", "cache", "model", "state", "ragged"} <= {p.stem for p in HF.glob("*.py")}


def test_no_class_of_llm_hf_reaches_into_another_s_private_members():
    offenders = {path.name: foreign_private_accesses(path.read_text(encoding="utf-8")) for path in HF.glob("*.py")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_check_sees_a_reach_into_another_class():
    source = (
        "class State:\n    def __init__(self):\n        self._cached = None\n    def fork(self):\n"
        "        new = State()\n        new._cached = self._cached\n        return new\n"
        "class Batch:\n    def put(self, state):\n        return state._cached, state.model._forward()\n"
    )
    assert foreign_private_accesses(source) == ["Batch: state._cached", "Batch: state.model._forward"]
