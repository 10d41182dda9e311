"""The package uses timm only through its public API (private modules change without notice)."""

import ast
from pathlib import Path

import wnlb_zoo

PACKAGE = Path(wnlb_zoo.__file__).parent


def private_timm_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "timm" and any(part.startswith("_") for part in parts[1:]):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}")
    return found


def test_no_imports_from_private_timm_modules():
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_timm_imports(path)]
    assert not offenders, f"import these from timm's public modules (timm, timm.models, ...): {offenders}"


def test_builder_uses_timms_public_resolve_pretrained_cfg():
    import timm.models

    from wnlb_zoo.models import _builder

    assert _builder.resolve_pretrained_cfg is timm.models.resolve_pretrained_cfg
