"""An uploaded image reaches the generated picture: upload, submit with it, wait, look."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.billing import service as billing
from creatix.jobs.specs import ImageSpec, Job, JobStatus
from creatix.kit.errors import InvalidRequest
from support import LiveServer
from upload_samples import MAGENTA, solid_png


def _principal(server: LiveServer, secret: str) -> Principal:
    assert server.runtime is not None
    return server.call(accounts.authenticate(server.runtime.db, secret))


def _upload(server: LiveServer, secret: str, data: bytes) -> str:
    with server.client(secret) as client:
        response = client.post(
            "/api/platform/upload", content=data, headers={"Content-Type": "image/png"}
        )
    assert response.status_code == 201, response.text
    path: str = response.json()["path"]
    return path


def _generate(server: LiveServer, principal: Principal, model: str, spec: ImageSpec) -> Job:
    assert server.runtime is not None
    jobs = server.runtime.jobs

    async def submit_and_wait() -> Job:
        return await jobs.wait(await jobs.intake.submit_image(principal, model, spec), 30)

    return server.call(submit_and_wait())


def _picture(server: LiveServer, job: Job) -> Image.Image:
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert server.runtime is not None
    [asset] = job.assets
    data = server.call(server.runtime.storage.get(asset.storage_key))
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _magenta_share(image: Image.Image) -> float:
    bands = [
        band.point(lambda v, c=value: 255 if abs(v - c) <= 6 else 0)
        for band, value in zip(image.split(), MAGENTA, strict=True)
    ]
    mask = ImageChops.multiply(ImageChops.multiply(bands[0], bands[1]), bands[2])
    return ImageStat.Stat(mask).mean[0] / 255


def _spec(**fields: object) -> ImageSpec:
    values: dict[str, object] = {
        "prompt": "Minimalist product photo of a perfume bottle on a marble table",
        "width": 512,
        "height": 512,
        "seed": 11,
    }
    values.update(fields)
    return ImageSpec.model_validate(values)


@pytest.mark.parametrize("model", ["creatix-pro", "flux-2-pro", "nano-banana-pro"])
def test_an_uploaded_image_is_composed_into_the_output(server: LiveServer, model: str) -> None:
    secret = server.key(plan="paid")
    principal = _principal(server, secret)
    assert server.runtime is not None
    server.call(billing.grant(server.runtime.db, principal.account_name, 5000, "test"))
    path = _upload(server, secret, solid_png((300, 200)))
    with_input = _picture(server, _generate(server, principal, model, _spec(input_image=path)))
    without = _picture(server, _generate(server, principal, model, _spec()))
    assert with_input.size == without.size == (512, 512)
    assert _magenta_share(without) < 0.001
    assert _magenta_share(with_input) > 0.1
    assert ImageChops.difference(with_input, without).getbbox() is not None


def test_n_images_each_carry_the_input(server: LiveServer) -> None:
    secret = server.key(plan="paid")
    principal = _principal(server, secret)
    path = _upload(server, secret, solid_png((64, 64)))
    job = _generate(server, principal, "creatix-pro", _spec(input_image=path, n=2))
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert server.runtime is not None
    for asset in job.assets:
        data = server.call(server.runtime.storage.get(asset.storage_key))
        with Image.open(io.BytesIO(data)) as image:
            assert _magenta_share(image.convert("RGB")) > 0.05


def test_another_accounts_upload_is_refused_naming_input_image(server: LiveServer) -> None:
    owner = server.key(plan="paid")
    path = _upload(server, owner, solid_png((32, 32)))
    stranger = _principal(server, server.key(plan="paid"))
    assert server.runtime is not None
    spec = _spec(input_image=path)
    with pytest.raises(InvalidRequest) as refused:
        server.call(server.runtime.jobs.intake.submit_image(stranger, "creatix-pro", spec))
    assert refused.value.param == "input_image"
    assert refused.value.status == 400


def test_a_model_without_image_input_refuses_one(server: LiveServer) -> None:
    secret = server.key(plan="paid")
    path = _upload(server, secret, solid_png((32, 32)))
    assert server.runtime is not None
    with pytest.raises(InvalidRequest) as refused:
        server.call(
            server.runtime.jobs.intake.submit_image(
                _principal(server, secret), "creatix-flash", _spec(input_image=path)
            )
        )
    assert refused.value.param == "input_image"
