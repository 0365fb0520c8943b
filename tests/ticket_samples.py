"""Small ticket exports written by tests (the project's own text, not shared data)."""

from __future__ import annotations

from pathlib import Path

HUB_FIX = "Reset the hub for 10 seconds and pair again."
HUB_MAP = ["id=id", "text=q", "reply=a", "status=status"]


def write_hub_tickets(path: Path) -> Path:
    """Two resolved tickets asking the same thing with the same fix, and one other resolved ticket."""
    path.write_text("id,q,a,status\n"
                    f"1,My hub keeps blinking red after I changed my router,{HUB_FIX},resolved\n"
                    f"2,my hub keeps blinking red after changing the router,{HUB_FIX},closed\n"
                    "3,How do I export my videos from the cloud storage?,Use Cloud Playback then Download.,resolved\n",
                    encoding="utf-8")
    return path
