"""Between jobs: the process' long-lived objects are frozen once, and a job's cyclic garbage is still freed."""

import gc
import subprocess
import sys
import textwrap

from tests.conftest import ROOT


def test_after_the_first_release_collections_skip_the_long_lived_objects_and_still_free_a_jobs_cycles():
    # a fresh interpreter: the freeze is once per process, and pytest's own objects must not count
    code = textwrap.dedent(
        """
        import gc, weakref
        from sweep.runtime.memory import release_memory

        class Node:
            pass

        long_lived = [Node() for _ in range(50_000)]  # a process' state: modules, caches
        release_memory()  # the first job ended
        frozen = gc.get_freeze_count()
        job = Node(); job.self = job  # a job's object in a reference cycle
        alive = weakref.ref(job)
        del job
        release_memory()
        print(frozen, gc.get_freeze_count() == frozen, alive() is None)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    frozen, once, freed = done.stdout.split()
    assert int(frozen) >= 50_000 and once == "True" and freed == "True"
    assert gc.isenabled()
