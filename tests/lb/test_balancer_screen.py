"""The balancer screen in a Pilot session against the lab's real HAProxy."""
from __future__ import annotations

from textual.app import App
from textual.widgets import DataTable, Static

from exops.facts.loadbalancer import BalancerFacts
from exops.sources.loadbalancers.base import BalancerUnreachable
from exops.sources.loadbalancers.haproxy import HAProxyDriver
from exops.tui.screens.balancers import BalancersScreen
from exops.tui.widgets.severity import severity_variables


class Host(App):
    def __init__(self, read):
        super().__init__()
        self.read = read

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return severity_variables(dark=True)

    def on_mount(self) -> None:
        self.push_screen(BalancersScreen(self.read, interval=60))


async def test_shows_every_member_and_follows_a_drain(balancer):
    driver = HAProxyDriver(balancer.settings())
    app = Host(lambda: BalancerFacts((driver.read(),)))
    async with app.run_test(size=(120, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#balancer-table", DataTable)
        assert table.row_count == 8
        driver.set_admin("Exchange-RPC", "L12EX2", "drain")
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert any(r[3] == "L12EX2" and r[5] == "drain" for r in rows)
        assert "1 drained or in maintenance" in str(app.screen.query_one("#balancer-summary", Static).render())


async def test_a_failed_read_is_said_and_the_session_stays():
    def broken():
        raise BalancerUnreachable("HAProxy runtime API /nowhere: No such file or directory")
    app = Host(broken)
    async with app.run_test(size=(100, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "cannot read the balancers: HAProxy runtime API" in \
            str(app.screen.query_one("#balancer-summary", Static).render())
