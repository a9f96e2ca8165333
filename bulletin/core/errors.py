"""Error pages in the user's language; never a bare 500 for bad input."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from bulletin.extensions import db


class DomainError(Exception):
    """A request the rules refuse. `message` is shown to the user (translated when raised); `field` names the form
    field it belongs to, if any."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


class NotTheVersionShown(DomainError):
    """A decision taken on a version of its subject that is no longer the current one, or on a version nobody can
    tell: it would decide on what the decider never saw. They are shown the current version to decide on."""


MESSAGES = {
    400: _l("リクエストを処理できませんでした。ページを読み込み直してから、もう一度お試しください。"),
    403: _l("このページを表示する権限がありません。"),
    404: _l("お探しのページは見つかりませんでした。"),
    405: _l("この操作はできません。"),
    413: _l("送信されたデータが大きすぎます。"),
    429: _l("短時間に操作が繰り返されたため、しばらく受け付けを止めています。時間をおいてもう一度お試しください。"),
    500: _l("サーバーで問題が起きました。時間をおいてもう一度お試しください。"),
}


def render_error(status: int, message: str | None = None):
    """The error page (JSON under /api/) with the status's message, or the one given."""
    if request.path.startswith("/api/"):
        return {"error": {"status": status, "message": message or str(MESSAGES.get(status, MESSAGES[400]))}}, status
    return render_template(
        "errors/error.html", status=status, message=message or str(MESSAGES.get(status, MESSAGES[400]))
    ), status


def register_error_handlers(app: Flask) -> None:
    """Render every HTTP error with the site's layout."""

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(
            400, _("フォームの有効期限が切れました。ページを読み込み直してから、もう一度送信してください。")
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return render_error(error.code or 500)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if app.testing:
            raise error
        app.logger.exception("unhandled error on %s", request.path)
        db.session.rollback()
        return render_error(500)
