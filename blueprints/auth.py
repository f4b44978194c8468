"""Log in, log out, language switch; forgotten password and one-time links to set one;
the person's API tokens (/account/tokens).

Failed logins are throttled in the database (services.accounts.attempt_login), per
account and per address, so the limit holds across workers and nodes; Flask-Limiter
(per worker unless RATELIMIT_STORAGE_URI is shared) stays only on the reset pages."""

from __future__ import annotations

from types import SimpleNamespace

from flask import (
    Blueprint,
    Flask,
    abort,
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
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from workflow.extensions import db, limiter, login_manager
from workflow.models import User
from workflow.models._base import MAX_ID, utcnow
from workflow.services import accounts

from ._web import LANGUAGES, is_htmx, localtime, page_or_fragment, safe_next

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


class TokenForm(FlaskForm):
    name = StringField(_l("Name"))  # checked in the view: the message beside the field


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


def _refusal_message(refused: accounts.LoginRefused) -> str:
    if refused.kind == accounts.ACCOUNT:
        return _(
            "Too many attempts for this account. Try again in %(minutes)d minutes, or set a "
            "new password with the link below.",
            minutes=refused.minutes,
        )
    return _(
        "Too many attempts from your network. Try again in %(minutes)d minutes.",
        minutes=refused.minutes,
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    default = url_for("home.index")
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), default))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    status = 200
    headers = {}
    if form.validate_on_submit():
        outcome = accounts.attempt_login(
            form.username.data, form.password.data, request.remote_addr
        )
        if isinstance(outcome, User):
            login_user(outcome)
            return redirect(safe_next(form.next.data, default))
        if isinstance(outcome, accounts.LoginRefused):
            error = _refusal_message(outcome)
            status = 429
            headers["Retry-After"] = str(outcome.retry_after)
        else:
            error = _("Wrong username or password.")
            status = 401
    elif request.method == "POST":
        error = _("Please fill in your username and password.")
        status = 422
    # Never send the password back.
    form.password.data = ""
    return render_template("auth/login.html", form=form, error=error), status, headers


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
        # A signed-cookie session cannot be forgotten by the server one at a time: ending
        # them all is what makes a copied cookie useless after logout.
        accounts.end_sessions(current_user)
        logout_user()
        flash(_("You have logged out on every device."), "info")
    return redirect(url_for("auth.login"))


# ---------------------------------------------------------------- API tokens


def _token_rows(tokens, owner):
    now = utcnow()
    place = owner.institution or SimpleNamespace(timezone="Asia/Jakarta", zone_label="WIB")
    rows = []
    for token in tokens:
        if token.revoked_at is not None:
            status = _("Revoked %(when)s", when=localtime(token.revoked_at, place))
        elif token.expires_at <= now:
            status = _("Expired %(when)s", when=localtime(token.expires_at, place))
        else:
            status = _("Valid until %(when)s", when=localtime(token.expires_at, place))
        rows.append(
            {
                "token": token,
                "live": token.is_live(now),
                "created": localtime(token.created_at, place),
                "last_used": localtime(token.last_used_at, place) if token.last_used_at else "",
                "status": status,
            }
        )
    return rows


def _owner_for(user_id: int | None) -> User:
    """Whose tokens the page shows: one's own, or anyone's for an admin (else 404)."""
    if user_id is None or user_id == current_user.id:
        return current_user
    if not current_user.is_admin:
        abort(404)
    owner = db.session.get(User, user_id)
    if owner is None:
        abort(404)
    return owner


def _tokens_page(owner: User, *, form=None, fields=None, new_token=None, message=None, status=200):
    return page_or_fragment(
        "account/tokens.html",
        "account/_tokens.html",
        status,
        owner=owner,
        own=owner.id == current_user.id,
        rows=_token_rows(accounts.tokens_of(owner.id), owner),
        form=form or TokenForm(),
        fields=fields or {},
        new_token=new_token,
        message=message,
    )


@bp.get("/account/tokens")
@bp.get(f"/account/tokens/user/<int(max={MAX_ID}):user_id>")
@login_required
def tokens(user_id: int | None = None):
    response = _tokens_page(_owner_for(user_id))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/tokens")
@login_required
def create_token():
    form = TokenForm()
    name = (form.name.data or "").strip()
    form.name.data = name
    fields = {}
    if not form.validate_on_submit():
        abort(400)
    if not name:
        fields["name"] = _("Give the token a name, such as the program that will use it.")
    elif len(name) > 100 or any(ord(c) < 32 for c in name):
        fields["name"] = _("Use at most %(count)d characters.", count=100)
    if fields:
        return _tokens_page(current_user, form=form, fields=fields, status=422)
    raw = accounts.issue_api_token(current_user, name)
    response = _tokens_page(current_user, new_token=raw)
    response.headers["Cache-Control"] = "no-store"  # the token is on this page once
    return response


@bp.post(f"/account/tokens/<int(max={MAX_ID}):token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    token = accounts.token_visible_to(token_id, current_user)
    if token is None:
        abort(404)
    owner = token.user
    done = accounts.revoke_api_token(token)
    message = _("The token is revoked: it no longer opens the API.") if done else None
    if is_htmx():
        return _tokens_page(owner, message=message)
    if message:
        flash(message, "success")
    if owner.id == current_user.id:
        return redirect(url_for("auth.tokens"))
    return redirect(url_for("auth.tokens", user_id=owner.id))


@bp.post("/lang")
def set_language():
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in LANGUAGES:
        session["lang"] = form.lang.data
    return redirect(safe_next(form.next.data, url_for("home.index")))


def _load_user(session_id: str):
    # "<id>:<session version>": a session from before the last logout, new password or
    # deactivation names an old version and is refused (remember-me cookies too).
    return accounts.user_for_session(session_id)


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
