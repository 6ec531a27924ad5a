"""Directives that print the command line's own help and the configuration schema.

``.. odesolve-help:: COMMAND`` renders ``odesolve COMMAND --help`` (``odesolve`` alone for the
overview) and ``.. odesolve-config-schema::`` the table of every configuration section and key
(:func:`odesolve.config.describe_schema`), so the reference pages cannot drift from the code.
"""
from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import Directive


def command_help(command: str | None) -> str:
    """The help text of ``odesolve [COMMAND]`` as argparse formats it (80 columns)."""
    import os

    from odesolve.cli import build_parser

    os.environ["COLUMNS"] = "96"
    parser = build_parser()
    if not command:
        return parser.format_help()
    sub = next(a for a in parser._subparsers._group_actions)          # the subcommands
    return sub.choices[command].format_help()


class OdesolveHelp(Directive):
    optional_arguments = 1
    has_content = False

    def run(self):
        text = command_help(self.arguments[0] if self.arguments else None)
        return [nodes.literal_block(text, text, language="text")]


class ConfigSchema(Directive):
    has_content = False

    def run(self):
        from odesolve.config import describe_schema

        text = describe_schema()
        return [nodes.literal_block(text, text, language="text")]


def setup(app):
    app.add_directive("odesolve-help", OdesolveHelp)
    app.add_directive("odesolve-config-schema", ConfigSchema)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
