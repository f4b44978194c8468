"""Log in, log out, language switch; forgotten password and one-time links to set one."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from workflow.extensions import db, limiter, login_manager
from workflow.models import User
from workflow.services import accounts

from ._web import LANGUAGES, safe_next

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class EmptyForm(FlaskForm):
    """Only the CSRF token: what a button-only POST needs."""


class LanguageForm(FlaskForm):
    lang = HiddenField(validators=[DataRequired()])
    next = HiddenField()


class ForgotForm(FlaskForm):
    email = StringField(_l("E-mail address"))  # checked in the view: one message per case


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _reset_address_limit() -> str:
    # Per address: nobody can flood someone's inbox with reset mail from many IPs.
    return current_app.config.get("RESET_RATE_LIMIT", "5 per hour")


def _address_key() -> str:
    return "reset:" + (request.form.get("email") or "").strip().lower()[:200]


def _private(response, status: int = 200):
    """The page of a one-time link: the token in its URL must not leak through a Referer
    header to anything the page loads or links to, nor stay in a cache."""
    response = current_app.make_response((response, status))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    default = url_for("home.index")
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), default))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    status = 200
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and user.check_password(form.password.data):
            login_user(user)
            return redirect(safe_next(form.next.data, default))
        error = _("Wrong username or password.")
        status = 401
    elif request.method == "POST":
        error = _("Please fill in your username and password.")
        status = 422
    # Never send the password back.
    form.password.data = ""
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_reset_address_limit, methods=["POST"], key_func=_address_key)
def forgot_password():
    form = ForgotForm()
    error = None
    status = 200
    if request.method == "POST":
        address = (form.email.data or "").strip()
        form.email.data = address
        if not form.validate_on_submit() or not address:  # CSRF itself is checked earlier
            error = _("Enter your e-mail address.")
            status = 422
        elif "@" not in address or len(address) > 200 or any(c.isspace() for c in address):
            error = _("Enter an e-mail address such as nama@instansi.go.id.")
            status = 422
        else:
            # Known or not, the answer is the same and takes about as long.
            accounts.request_reset(address)
            return render_template("auth/forgot_sent.html", address=address)
    return render_template("auth/forgot.html", form=form, error=error), status


@bp.route("/password/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def set_password(token: str):
    found = accounts.check_token(token)
    if found is None:
        return _private(render_template("auth/link_invalid.html"), 410)
    fields: dict[str, str] = {}
    status = 200
    if request.method == "POST":  # CSRFProtect has checked the token already
        try:
            user = accounts.set_password(
                token, request.form.get("password", ""), request.form.get("confirm", "")
            )
        except accounts.InvalidLink:
            return _private(render_template("auth/link_invalid.html"), 410)
        except accounts.PasswordRejected as exc:
            fields = exc.fields
            status = 422
        else:
            # The link proved the mailbox: the person is in, under their own name only.
            logout_user()
            login_user(user)
            flash(_("Your password is set. Welcome to Aksi."), "success")
            return _private(redirect(url_for("home.index")), 302)
    return _private(
        render_template(
            "auth/set_password.html",
            token=token,
            user=found.user,
            purpose=found.purpose,
            fields=fields,
            min_length=accounts.MIN_LENGTH,
        ),
        status,
    )


@bp.post("/logout")
@login_required
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        logout_user()
        flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/lang")
def set_language():
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in LANGUAGES:
        session["lang"] = form.lang.data
    return redirect(safe_next(form.next.data, url_for("home.index")))


def _load_user(user_id: str):
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    # Flash a plain string in the current language (the session cannot hold lazy strings).
    login_manager.localize_callback = str

    @app.context_processor
    def _forms():
        return {"empty_form": EmptyForm, "language_form": LanguageForm}
