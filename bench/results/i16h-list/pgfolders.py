"""Times folder pages (prefix=f/, delimiter=/, 1,000 common prefixes) on ossd over PostgreSQL."""
import sys, time, tempfile, pathlib, statistics
sys.path.insert(0, "/work/main/tests/sdk/python")
from concurrent.futures import ThreadPoolExecutor
import oss2
from ossd_helpers import ClusterOssd
results = {}
for name in sys.argv[1:]:
    d = pathlib.Path(tempfile.mkdtemp(prefix="pgf-"))
    s = ClusterOssd(d, binary=f"/work/bin/ossd-{name}")
    s.start()
    s.proxy.backends = s.proxy.backends[:1]
    try:
        b = oss2.Bucket(oss2.Auth(s.ak, s.sk), f"http://{s.proxy.backends[0]}", "folders")
        b.create_bucket()
        keys = [f"f/{i:05d}/{j}" for i in range(1500) for j in range(2)]
        with ThreadPoolExecutor(16) as p:
            list(p.map(lambda k: b.put_object(k, b"x"), keys))
        times = []
        for r in range(8):
            t = time.perf_counter()
            res = b.list_objects(prefix="f/", delimiter="/", max_keys=1000, marker=f"f/{(r*50):05d}/")
            times.append((time.perf_counter() - t) * 1000)
            assert len(res.prefix_list) == 1000 and not res.object_list, (len(res.prefix_list), len(res.object_list))
        results[name] = times
        print(name, "folder page ms:", " ".join(f"{t:.0f}" for t in times), "median %.1f" % statistics.median(times), flush=True)
    finally:
        s.stop()
