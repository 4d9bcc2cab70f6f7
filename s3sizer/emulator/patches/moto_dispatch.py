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
- To find a service's backend for an account, moto takes one lock shared by every service and
  thread, to create that account's backends should they not exist yet. A request that finds
  them there reads them without the lock; only one that must create them takes it, as moto
  does. A thread waiting for that lock lets go of the interpreter, and won it back only behind
  the other requests' threads: a DynamoDB request, which holds the table's lock meanwhile, kept
  every other DynamoDB request waiting behind a burst's S3 uploads.
- To write a timestamp into an answer, moto's serializer parses the text moto's S3 models made
  of it (``2026-12-05T10:14:33.000Z``) back into a time with dateutil's general parser: about a
  third of each listing page. Text of exactly that form is read by ``datetime.fromisoformat``
  instead, once per distinct stamp; any other value, or a date that does not exist, still goes
  to moto's own conversion.

Each answer is moto's own, as the contract test compares.
"""

from __future__ import annotations

import functools
import re
import threading
from datetime import datetime

from . import hooks
from .hooks import PatchSet, Target

TARGETS = {
    "modules": Target("moto's folder is listed once", "moto.backends", None,
                      "list_of_moto_modules", ()),
    "method_names": Target("a handler's methods are listed once per class", "moto.core.responses",
                           None, "method_names_from_class", ("clazz",)),
    "backend": Target("an account's backends are read without a lock", "moto.core.base_backend",
                      "BackendDict", "__getitem__", ("self", "account_id")),
    "timestamps": Target("S3's timestamps are read back without dateutil", "moto.core.serialize",
                         "TimestampSerializer", "_convert_timestamp_to_str",
                         ("self", "value", "timestamp_format")),
}  # fmt: skip
MODULES_LISTED_ONCE = "moto: a request's service found without listing moto's folder"
METHODS_LISTED_ONCE = "moto: a request's handler method found without listing its class"
BACKEND_WITHOUT_LOCK = "moto: an account's backends read without moto's lock"
STAMP_READ_DIRECTLY = "moto: a timestamp of moto's S3 form read without dateutil"
# moto's S3 models' form, in ASCII digits only (``\d`` would take any script's)
_S3_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["modules"], _listed_once)
    patches.replace(TARGETS["method_names"], _names_once_per_class)
    patches.replace(TARGETS["backend"], _existing_without_lock)
    patches.replace(TARGETS["timestamps"], _stamps_read_directly)


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


def _existing_without_lock(original):
    @functools.wraps(original)  # __wrapped__: moto's own lookup, which the contract test compares
    def __getitem__(self, account_id):
        found = dict.get(self, account_id)  # one step under the interpreter's lock
        if found is None:
            return original(self, account_id)  # created under moto's lock, as moto does
        hooks.FAST_PATHS[BACKEND_WITHOUT_LOCK] += 1
        return found

    return __getitem__


def _stamps_read_directly(original):
    from dateutil.tz import tzutc  # botocore's own zone, which its parser gives back

    utc = tzutc()

    @functools.lru_cache(maxsize=4096)  # a listing's keys share few stamps
    def read(text: str) -> datetime:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=utc)

    # A method of the serializer, not the module's function: other moto modules import that
    # function by name, and would keep this one after deactivate.
    @functools.wraps(original)  # __wrapped__: moto's own, which the contract test compares
    def _convert_timestamp_to_str(self, value, timestamp_format):
        if type(value) is not str or not _S3_STAMP.fullmatch(value):
            return original(self, value, timestamp_format)
        try:
            parsed = read(value)
        except ValueError:  # no such date (02-30): botocore's parser says so in its own words
            return original(self, value, timestamp_format)
        hooks.FAST_PATHS[STAMP_READ_DIRECTLY] += 1
        return getattr(self, f"_timestamp_{timestamp_format.lower()}")(parsed)

    return _convert_timestamp_to_str
