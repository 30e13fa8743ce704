"""The customer portal (``/portal``, no account): the customer's task links and public pages.

Staff complete a customer task on the customer's behalf from the usual task page
(``web.views.common.acts_for_customer``) and revoke or resend its link from the case page
(:mod:`web.portal.staff`). :func:`init_app` registers the blueprint and makes
its pages public.
"""
from __future__ import annotations

from flask import Flask

from web.portal.common import bp

#: Endpoints a customer reaches without signing in.
PUBLIC = ("portal.index", "portal.task", "portal.task_submit", "portal.set_language", "portal.file_form",
          "portal.file_submit", "portal.filed", "portal.track_form", "portal.track")


def init_app(app: Flask) -> None:
    """Register the portal's views on ``app``."""
    from web.portal import pages, staff, tasks, track  # noqa: F401  # the views register themselves on ``bp``
    from web.views import PUBLIC_ENDPOINTS
    from web.views.common import acts_for_customer

    PUBLIC_ENDPOINTS.update(PUBLIC)
    app.register_blueprint(bp)
    app.add_template_global(acts_for_customer)  # staff pages: customer tasks staff may complete for the customer
    app.add_template_global(staff.link_state, "portal_link_state")  # the case page: the link of a customer task
