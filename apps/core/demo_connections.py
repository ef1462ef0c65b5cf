"""Registers the demo databases as connections once the connections app provides them."""

from pathlib import Path


def register_demo_connections(*, source: Path, target: Path) -> list[str]:
    try:
        from apps.connections.services import connection_ensure_demo
    except ImportError:
        return ["connections are not available yet; demo databases not registered"]
    return connection_ensure_demo(source=source, target=target)
