"""Writes N seeded demo-world photos (JPEG and PNG, in nested folders, a caption sidecar for every
third) into a folder: the larger generated input of the distributed tests.

    python Tests/distributed/make_photos.py OUT [N]
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Scripts"))
import demo_world  # noqa: E402


def main(out: str, n: int) -> None:
    rng = random.Random(1717)
    for i in range(n):
        scene = demo_world.random_scene(rng)
        folder = os.path.join(out, f"batch-{i // 50:02d}", scene.shape)
        os.makedirs(folder, exist_ok=True)
        stem = os.path.join(folder, f"scene-{i:05d}")
        image = demo_world.render(scene, width=rng.choice([96, 128, 160]))
        if i % 4 == 0:
            image.save(stem + ".png")
        else:
            image.save(stem + ".jpg", quality=90)
        if i % 3 == 0:
            with open(stem + ".txt", "w") as f:
                f.write(demo_world.caption(scene, rng)[0])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200)
