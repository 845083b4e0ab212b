"""The sync core is the compiled extension, and importing it keeps a
free-threaded interpreter free-threaded."""
import copy
import importlib.machinery
import pickle
import sys

import pytest

import gocore

SYNC_TYPES = ["Mutex", "RWMutex", "Cond", "Once", "WaitGroup", "Semaphore",
              "AtomicInt", "AtomicBool", "AtomicRef"]


def test_mutex_is_the_compiled_type():
    assert type(gocore.Mutex()).__module__ == "gocore._gocore"
    path = sys.modules["gocore._gocore"].__file__
    assert path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), path
    assert isinstance(sys.modules["gocore._gocore"].__spec__.loader,
                      importlib.machinery.ExtensionFileLoader)


@pytest.mark.parametrize("name", SYNC_TYPES)
def test_every_sync_type_is_compiled(name):
    cls = getattr(gocore, name)
    assert cls.__module__ == "gocore._gocore"
    # an extension type: instances have fixed C fields, no __dict__
    assert not hasattr(cls.__new__(cls), "__dict__")


SYNC_FACTORIES = {
    "Mutex": lambda: gocore.Mutex(),
    "RWMutex": lambda: gocore.RWMutex(),
    "Cond": lambda: gocore.Cond(gocore.Mutex()),
    "Once": lambda: gocore.Once(),
    "WaitGroup": lambda: gocore.WaitGroup(),
    "Semaphore": lambda: gocore.Semaphore(2),
}


@pytest.mark.parametrize("name", list(SYNC_FACTORIES))
@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, pickle.dumps],
                         ids=["copy", "deepcopy", "pickle"])
def test_sync_objects_refuse_copy_and_pickle(name, how):
    # Go's vet forbids copying a lock; threading.Lock refuses too.  A copy
    # would carry waiter counts and hand-off state that belong to the original.
    with pytest.raises(TypeError):
        how(SYNC_FACTORIES[name]())


@pytest.mark.parametrize("name", list(SYNC_FACTORIES))
def test_sync_objects_support_weak_references(name):
    import weakref
    obj = SYNC_FACTORIES[name]()
    assert weakref.ref(obj)() is obj


def test_sync_names_are_exported():
    for name in SYNC_TYPES + ["once_func", "once_value", "once_values"]:
        assert name in gocore.__all__
        assert getattr(gocore, name) is not None
