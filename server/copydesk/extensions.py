"""Extension objects, created unbound and attached in ``create_app``."""

from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect


def client_ip():
    # remote_addr is already the proxy-reported client when TRUSTED_PROXIES is set (ProxyFix).
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)
login_manager = LoginManager()
migrate = Migrate()
csrf = CSRFProtect()
