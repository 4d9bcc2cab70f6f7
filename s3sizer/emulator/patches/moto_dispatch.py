"""Every service: what moto works out again for each request is worked out once.

- To find the service a request is for, moto's server asks whether its host names one of moto's
  own packages, and answers that by listing moto's folder and checking each entry is a folder:
  some 150 file-system calls per request, S3 PutObjects and DynamoDB PutItems alike. The list
  is taken once, the first time it is asked for; moto's folder does not change while it runs.
- To find the method that answers an action, moto lists every function of the handler's class
  (inspect.getmembers, about a hundred attributes looked up) per request. The names are taken
  once per class, the first time the class answers, by moto's own function: every patch that
  adds a method has installed before then (activate installs them all before the server takes
  a request), and deactivate gives moto its own function back.

Both answers are moto's own, as the contract test compares.
"""

from __future__ import annotations

import functools
import threading

from . import hooks
from .hooks import PatchSet, Target

TARGETS = {
    "modules": Target("moto's folder is listed once", "moto.backends", None,
                      "list_of_moto_modules", ()),
    "method_names": Target("a handler's methods are listed once per class", "moto.core.responses",
                           None, "method_names_from_class", ("clazz",)),
}  # fmt: skip
MODULES_LISTED_ONCE = "moto: a request's service found without listing moto's folder"
METHODS_LISTED_ONCE = "moto: a request's handler method found without listing its class"


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["modules"], _listed_once)
    patches.replace(TARGETS["method_names"], _names_once_per_class)


def _listed_once(original):
    listed: list[tuple[str, ...]] = []
    lock = threading.Lock()

    @functools.wraps(original)  # __wrapped__: moto's own listing, which the contract test compares
    def list_of_moto_modules():
        if not listed:
            with lock:
                if not listed:
                    listed.append(tuple(original()))
        else:
            hooks.FAST_PATHS[MODULES_LISTED_ONCE] += 1
        return iter(listed[0])  # moto's is a generator: one pass over the names

    return list_of_moto_modules


def _names_once_per_class(original):
    names: dict[type, tuple[str, ...]] = {}

    @functools.wraps(original)
    def method_names_from_class(clazz):
        found = names.get(clazz)
        if found is None:
            found = names.setdefault(clazz, tuple(original(clazz)))
        else:
            hooks.FAST_PATHS[METHODS_LISTED_ONCE] += 1
        return list(found)  # a list of its own, as moto's function returns

    return method_names_from_class
