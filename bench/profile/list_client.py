#!/usr/bin/env python3
# Fills a bucket (list_client.py PORT fill N) or lists N 1,000-key pages at random markers
# (list_client.py PORT list N) for bench/profile/callgrind.sh.
import sys, oss2, concurrent.futures as cf, time
port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
b = oss2.Bucket(oss2.Auth("benchak", "benchsecretkey"), f"http://127.0.0.1:{port}", "lstbucket")
if mode == "fill":
    try: b.create_bucket()
    except Exception: pass
    def put(i): b.put_object(f"key/{i:08d}", b"0123456789abcdef")
    with cf.ThreadPoolExecutor(16) as ex: list(ex.map(put, range(n)))
    print("filled")
else:
    import random
    random.seed(1)
    for i in range(n):
        r = b.list_objects(marker=f"key/{random.randrange(0, 19000):08d}", max_keys=1000)
        assert len(r.object_list) == 1000, len(r.object_list)
    print("listed")
