"""The model card: valid YAML front matter the hub reads, and the facts it was given."""

import yaml

from wnlb_zoo.weights import CardFacts, render_model_card


def split_card(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


def test_card_front_matter_and_body_state_the_given_facts(exported):
    metadata, body = split_card(exported.export.card.read_text())
    assert metadata["library_name"] == "timm"
    assert metadata["license"] == "apache-2.0"
    assert metadata["datasets"] == ["LIS", "PennFudanPed (synthetic low light)"]
    assert metadata["base_model"] == "timm/resnet18.a1_in1k"
    assert {"timm", "wnlb", "low-light"} <= set(metadata["tags"])
    assert {"box_ap", "box_ap50", "box_ap75", "mask_ap", "mask_ap50", "mask_ap75"} == set(metadata["metrics"])
    results = metadata["model-index"][0]["results"]
    assert results[0]["dataset"] == {"name": "LIS", "type": "lis", "split": "test (RGB-dark)"}
    values = {(m["type"], m["name"]): m["value"] for result in results for m in result["metrics"]}
    assert values[("box_ap50", "box AP50 (Mask R-CNN R18-FPN)")] == 25.25
    assert values[("mask_ap75", "mask AP75 (Mask R-CNN R18-FPN)")] == 9.75
    assert values[("box_ap", "box AP (Faster R-CNN R18-FPN)")] == 13.0

    assert "# wnlb_resnet18.roundtrip_test" in body
    assert 'timm.create_model("hf-hub:wnlb-test/wnlb-resnet18-roundtrip", pretrained=True, features_only=True' in body
    assert "| Mask R-CNN R18-FPN | LIS | test (RGB-dark) | 12.5 | 25.2 | 11.0 | 10.5 | 21.0 | 9.8 |" in body
    assert "| Faster R-CNN R18-FPN | LIS | test (RGB-dark) | 13.0 | 26.0 | 12.0 | - | - | - |" in body
    assert "wnlb-zoo train --model wnlb_resnet18 --data lis --epochs 12" in body
    assert exported.record.sha256 in body
    assert "Lin, Joanne and Anantrasirichai, Nantheera and Bull, David" in body
    assert "2402.18307" in body and "ICASSP" in body


def test_card_of_an_unpublished_export_says_what_is_missing():
    facts = CardFacts("wnlb_resnet18", {}, 11_000_000, (1, 2, 3, 4), "0" * 64, 10)
    metadata, body = split_card(render_model_card(facts))
    assert metadata["library_name"] == "timm"
    assert metadata["license"] == "unknown"
    assert "datasets" not in metadata and "model-index" not in metadata
    assert "Not evaluated yet." in body
    assert 'timm.create_model("local-dir:/path/to/this/folder", pretrained=True, features_only=True' in body
