"""Flask extensions, created unbound and initialised in create_app."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from bulletin.core.db import Base

db = SQLAlchemy(model_class=Base)
if TYPE_CHECKING:  # db.Model is made at run time; to the type checker it is the declarative base it extends
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)
