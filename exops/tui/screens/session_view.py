"""A screen drawn from the app's session alone (the timeline, the Exchange servers).

It is drawn again when the part of the session it shows is replaced, and when the theme changes
(colours are resolved when drawn), never for progress events that leave that part as it was.
"""
from __future__ import annotations

from textual.screen import Screen

from exops.tui.session import Session


class SessionView(Screen):
    def __init__(self) -> None:
        super().__init__()
        self._drawn_from: object = None
        self._drawn = False

    def on_mount(self) -> None:
        """Runs after the subclass's own on_mount (Textual calls the handlers up the MRO)."""
        self.watch(self.app, "session", self._session_changed, init=True)
        self.app.theme_changed_signal.subscribe(self, lambda _: self.draw(self.app.session))

    def _session_changed(self, session: Session) -> None:
        part = self.drawn_from(session)
        if self._drawn and part is self._drawn_from:
            return
        self._drawn_from, self._drawn = part, True
        self.draw(session)

    def drawn_from(self, session: Session) -> object:
        """The part of the session this screen shows; compared by identity."""
        raise NotImplementedError

    def draw(self, session: Session) -> None:
        raise NotImplementedError
