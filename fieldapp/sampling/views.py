from flask import Blueprint

bp = Blueprint("sampling", __name__)
