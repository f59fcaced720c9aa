"""`fastvideo serve` through the official openai package: create, retrieve, list, download, delete,
and the error a bad request gets. Usage: serve_openai_client.py BASE_URL API_KEY OUT.mp4
(run by serve_test). Prints "openai client: ok" when every step passed."""
import sys
import time

import openai

base_url, api_key, out = sys.argv[1:4]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)

# Our extensions go in extra_body; the package sends everything as multipart/form-data.
video = client.videos.create(
    prompt="A red fox runs through fresh snow at dawn.",
    size="32x32",
    seconds="0.25",
    extra_body={"seed": 7, "num_inference_steps": 2},
)
assert video.status == "queued", video
assert video.object == "video" and video.size == "32x32" and video.seconds == "0.25", video
deadline = time.time() + 60
while video.status in ("queued", "in_progress") and time.time() < deadline:
    time.sleep(0.05)
    video = client.videos.retrieve(video.id)
assert video.status == "completed", video
assert video.progress == 100, video

assert [v.id for v in client.videos.list()] == [video.id]

content = client.videos.download_content(video.id)
data = content.read()
assert data[4:8] == b"ftyp", data[:16]
with open(out, "wb") as f:
    f.write(data)

deleted = client.videos.delete(video.id)
assert deleted.deleted and deleted.id == video.id, deleted
try:
    client.videos.retrieve(video.id)
    raise AssertionError("a deleted video is still there")
except openai.NotFoundError:
    pass

try:
    client.videos.create(prompt="A fox.", size="30x32")
    raise AssertionError("size 30x32 was accepted")
except openai.BadRequestError as e:
    assert e.body["param"] == "size", e.body

try:
    openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).videos.list()
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError:
    pass

print("openai client: ok")
