"""Ready-to-copy API calls that reproduce a job ("copy as API call") or show a model.

The key is always a placeholder: the dashboard never has a raw key to show, and a snippet
pasted into a ticket must not leak one.
"""

import json
import shlex

from generator.models import Generation, ImageModel

KEY_PLACEHOLDER = "$PIXDASH_API_KEY"


def for_generation(base_url: str, generation: Generation) -> dict[str, str]:
    size = f"{generation.width}x{generation.height}"
    inputs = generation.inputs.filter(role="image").count()
    return _snippets(
        base_url,
        model=generation.image_model.public_id,
        prompt=generation.prompt,
        n=generation.n,
        size=size,
        images=inputs,
    )


def for_model(base_url: str, image_model: ImageModel) -> dict[str, str]:
    ratio = image_model.default_aspect_ratio
    return _snippets(
        base_url,
        model=image_model.aliases[0] if image_model.aliases else image_model.public_id,
        prompt="A lighthouse at dusk, watercolour",
        n=1,
        size=image_model.sizes.get(ratio, "1024x1024"),
        images=0,
    )


def _snippets(base_url: str, *, model: str, prompt: str, n: int, size: str, images: int):
    files = [f"image-{i + 1}.png" for i in range(images)]
    if files:
        parts = [f"-F model={shlex.quote(model)}", f"-F prompt={shlex.quote(prompt)}"]
        parts += [f"-F n={n}", f"-F size={size}"]
        parts += [f"-F 'image[]=@{name}'" for name in files]
        curl = (
            f"curl {base_url}/images/edits \\\n"
            f'  -H "Authorization: Bearer {KEY_PLACEHOLDER}" \\\n  ' + " \\\n  ".join(parts)
        )
        opened = ", ".join(f'open("{name}", "rb")' for name in files)
        call = (
            f"result = client.images.edit(\n    model={model!r},\n    image=[{opened}],\n"
            f"    prompt={prompt!r},\n    n={n},\n    size={size!r},\n)"
        )
    else:
        body = json.dumps({"model": model, "prompt": prompt, "n": n, "size": size})
        curl = (
            f"curl {base_url}/images/generations \\\n"
            f'  -H "Authorization: Bearer {KEY_PLACEHOLDER}" \\\n'
            f'  -H "Content-Type: application/json" \\\n'
            f"  -d {shlex.quote(body)}"
        )
        call = (
            f"result = client.images.generate(\n    model={model!r},\n    prompt={prompt!r},\n"
            f"    n={n},\n    size={size!r},\n)"
        )
    python = (
        "import os\nfrom openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{base_url}", api_key=os.environ["PIXDASH_API_KEY"])\n'
        f"{call}\nfor image in result.data:\n    print(image.url)"
    )
    return {"curl": curl, "python": python}
