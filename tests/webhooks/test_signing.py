"""Standard Webhooks signatures, checked against the specification's example and an
independent implementation (the standardwebhooks package)."""

import base64
import time

import standardwebhooks

from webhooks import signing

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_BODY = b'{"test": 2432232314}'


def test_it_signs_the_specifications_example_to_its_signature():
    assert (
        signing.signature(
            secret=SPEC_SECRET,
            message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp=1614265330,
            body=SPEC_BODY,
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_secrets_are_whsec_and_32_random_bytes_in_base64():
    first, second = signing.new_secret(), signing.new_secret()

    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_the_standardwebhooks_package_verifies_our_headers():
    secret = signing.new_secret()
    headers = signing.headers(secret=secret, message_id="msg_1", body=SPEC_BODY)

    assert standardwebhooks.Webhook(secret).verify(SPEC_BODY, headers) == {"test": 2432232314}
    assert headers["Content-Type"] == "application/json"


def test_verify_accepts_a_good_delivery_and_refuses_tampering():
    secret = signing.new_secret()
    headers = signing.headers(secret=secret, message_id="msg_1", body=SPEC_BODY)

    assert signing.verify(secret=secret, headers=headers, body=SPEC_BODY)
    assert not signing.verify(secret=secret, headers=headers, body=SPEC_BODY + b" ")
    assert not signing.verify(secret=signing.new_secret(), headers=headers, body=SPEC_BODY)
    assert not signing.verify(
        secret=secret, headers={**headers, "webhook-id": "msg_2"}, body=SPEC_BODY
    )
    assert not signing.verify(secret=secret, headers={}, body=SPEC_BODY)


def test_verify_refuses_an_old_or_future_timestamp():
    secret = signing.new_secret()
    old = signing.headers(
        secret=secret, message_id="msg_1", body=SPEC_BODY, timestamp=int(time.time()) - 600
    )

    assert not signing.verify(secret=secret, headers=old, body=SPEC_BODY)
    assert signing.verify(secret=secret, headers=old, body=SPEC_BODY, now=time.time() - 600)


def test_verify_accepts_any_of_several_signatures():
    secret = signing.new_secret()
    headers = signing.headers(secret=secret, message_id="msg_1", body=SPEC_BODY)
    headers["webhook-signature"] = "v1,bm90IGl0 " + headers["webhook-signature"]

    assert signing.verify(secret=secret, headers=headers, body=SPEC_BODY)
