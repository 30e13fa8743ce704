"""Known ways out of a Python sandbox, each in a script task of a deployed diagram.

Every attempt must be refused when the diagram is deployed (naming the element) or stop
the instance in ``error`` at that element when it runs; after the whole corpus the server
process is unharmed (environment, builtins, modules).
"""
from __future__ import annotations

import builtins
import os
import sys
from pathlib import Path

import pytest
from sandbox_diagrams import chain, script, user, write_bundle

import engine
from caseflow import store

ENV_BEFORE = dict(os.environ)
BUILTINS_BEFORE = dict(vars(builtins))
SENTINEL_MODULE = "this"  # no escape may import it
assert SENTINEL_MODULE not in sys.modules

ESCAPES: dict[str, str] = {
    # frames of generators, coroutines, async generators
    "generator gi_frame walk": "g = (x for x in [1])\nb = g.gi_frame.f_back.f_globals['__builtins__']",
    "generator gi_frame alone": "g = (x for x in [1])\nf = g.gi_frame",
    "generator gi_code": "g = (x for x in [1])\nc = g.gi_code",
    "generator function": "def gen():\n    yield 1\nf = gen().gi_frame",
    "coroutine cr_frame": "async def co():\n    pass\nf = co().cr_frame",
    "cr_frame on any object": "f = now.cr_frame",
    "async generator ag_frame": "async def ag():\n    yield 1\nf = ag().ag_frame",
    # tracebacks
    "exception __traceback__": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    tb = e.__traceback__",
    "traceback tb_frame": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    f = e.__traceback__.tb_frame",
    "tb_frame name alone": "x = now.tb_frame",
    "with_traceback": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    e2 = e.with_traceback(None)",
    "exception __context__": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    c = e.__context__",
    # format strings walk attributes
    "str.format attribute walk": "s = '{0.__globals__[ast].sys.modules[os].environ[HOME]}'.format(now)",
    "str.format_map": "s = '{x.__class__}'.format_map({'x': now})",
    "str.format unbound": "s = str.format('{0.__class__}', 1)",
    "f-string __class__": 's = f"{now.__class__}"',
    "f-string __globals__": 's = f"{now.__globals__}"',
    "f-string computed spec": 'w = 10\ns = f"{1:{w}}"',
    "%-format star width": "s = '%*d' % (5, 1)",
    "string.Formatter": "s = string.Formatter().format('{0.__class__}', 1)",
    # the class hierarchy
    "__subclasses__": "s = ().__class__.__base__.__subclasses__()",
    "tuple __bases__": "b = ().__class__.__bases__[0]",
    "mro()": "o = int.mro()[-1]",
    "Exception.mro()": "o = Exception.mro()[-1]",
    "type()": "t = type(1)",
    "type() with three arguments": "X = type('X', (), {})",
    "object": "o = object()",
    "super": "s = super()",
    "__reduce__": "r = now.__reduce__()",
    "__reduce_ex__": "r = (1).__reduce_ex__(2)",
    # computed names and namespaces
    "getattr computed name": "c = getattr(now, '_' + '_globals__')",
    "vars()": "v = vars()",
    "dir()": "d = dir(now)",
    "globals()": "g = globals()",
    "locals()": "l = locals()",
    "__builtins__ lookup": "i = __builtins__['__import__']",
    "dict.__getitem__ on globals": "b = dict.__getitem__(globals(), '__builtins__')",
    "_getattr_ called directly": "g = _getattr_(now, '__globals__')",
    "setattr": "setattr(now, 'x', 1)",
    "delattr": "delattr(now, 'x')",
    "attribute write on a helper": "now.x = 1",
    # functions
    "decorator walks globals": "@lambda f: f.__globals__\ndef g():\n    pass",
    "lambda default": "f = lambda x=now: x.__globals__\ny = f()",
    "function __code__": "def f():\n    pass\nc = f.__code__",
    "lambda code co_consts": "c = (lambda: 0).co_consts",
    "operator.attrgetter": "g = operator.attrgetter('real')(1)",
    # other builtins
    "help": "help()",
    "breakpoint": "breakpoint()",
    "memoryview": "m = memoryview(b'x')",
    "open": "f = open('/etc/passwd').read()",
    "open by another name": "o = open\nf = o('/etc/passwd')",
    "compile": "c = compile('1', 'x', 'eval')",
    "exec": "exec('x = 1')",
    "eval": "y = eval('1')",
    "exec by another name": "e = exec\ne('x = 1')",
    "print.__self__": "b = print.__self__",
    "len.__self__": "b = len.__self__",
    "print": "print('hello')",
    # imports
    "import": "import os",
    "import sentinel": f"import {SENTINEL_MODULE}",
    "from import": "from os import environ",
    "__import__": "m = __import__('os')",
    # the helpers
    "now.__class__": "c = now().__class__",
    "datetime.__module__": "m = datetime.__module__",
    "timedelta.__init__.__globals__": "g = timedelta.__init__.__globals__",
    "now.__globals__ sys": "s = now.__globals__['sys']",
    "sys via a helper attribute": "s = datetime.sys",
    "parse_datetime __wrapped__": "w = parse_datetime.__wrapped__",
    # classes and other statements
    "class with metaclass": "class M(type):\n    pass\nclass X(metaclass=M):\n    pass",
    "plain class": "class X:\n    pass",
    "global statement": "def f():\n    global x\n    x = 1\nf()",
    "with statement": "with open('/etc/passwd') as f:\n    pass",
    "match class pattern": "match now:\n    case object(__globals__=g):\n        pass",
    "walrus to dunder": "y = (z := now.__globals__)",
    "environment write": "__import__('os').environ['CASEFLOW_PWNED'] = '1'",
    "builtins write": "b = len.__self__\nb.len = None",
    "sum of lists": "s = sum([[1], [2]], [])",
}


@pytest.fixture(scope="module")
def escape_db(tmp_path_factory: pytest.TempPathFactory):
    db = store.Database(f"sqlite:///{tmp_path_factory.mktemp('escapes') / 'escapes.sqlite3'}")
    db.upgrade()
    yield db
    db.dispose()
    engine.clear_caches()


def test_the_corpus_is_large_enough():
    assert len(ESCAPES) >= 40


@pytest.mark.parametrize("name", list(ESCAPES))
def test_escape_is_refused_at_deploy_or_stops_the_instance(escape_db, tmp_path: Path, name: str):
    key = "escape"
    bundle = write_bundle(tmp_path / "bundle", key, chain(key, script("attempt", ESCAPES[name]), user("after")))
    with escape_db.session() as s:
        try:
            engine.deploy(s, [bundle], actor="admin")
        except engine.DeployRejected as refused:
            assert [p.element for p in refused.problems] == ["attempt"], refused.problems
            assert "'Attempt'" in refused.problems[0].message  # names the element
            return
        view = engine.start(s, key, {}, "admin")
    assert view["status"] == "error", f"{name}: the escape ran ({view['status']}, data {view['data']})"
    assert view["error"]["task"] == "attempt" and view["error"]["message"]


def test_after_the_corpus_the_server_is_unharmed():
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    assert env == {k: v for k, v in ENV_BEFORE.items() if k != "PYTEST_CURRENT_TEST"}
    assert dict(vars(builtins)) == BUILTINS_BEFORE
    assert SENTINEL_MODULE not in sys.modules
    assert "_tracers" not in repr(sys.gettrace())  # no trace function of the sandbox is left behind
