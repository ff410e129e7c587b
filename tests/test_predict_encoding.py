"""Prediction feeds the model the token ids training fed it: the same cut of long lines (no train/predict skew)."""

import pyarrow as pa
import pytest
from transformers import BertTokenizerFast

from scoring.predictor import encode_like_training
from tasks.tokenize import encode_texts

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "거래처", "적요", "금액", "a", "b", "c", "d"]


@pytest.fixture
def bert_tokenizer(tmp_path):
    """A WordPiece tokenizer that ends every text with [SEP], like the bundled encoder's."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB), encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(vocab), do_lower_case=False)


def test_long_and_short_lines_are_cut_as_the_dataset_cut_them(bert_tokenizer):
    # given lines shorter and longer than max_length
    texts = ["거래처 a", "거래처 a b c d a b c d 적요 a b c", "금액 d", ""]
    # when encoded for prediction and for the training dataset
    predicted = encode_like_training(bert_tokenizer, texts, max_length=6)
    stored = encode_texts(bert_tokenizer, pa.chunked_array([texts]), max_length=6, batch_size=2)
    # then the ids are the same, row by row
    assert predicted == stored.column("input_ids").to_pylist()
    # and a long line keeps its first six ids: no [SEP] the model never saw at its end
    assert predicted[1][0] == bert_tokenizer.cls_token_id and predicted[1][-1] != bert_tokenizer.sep_token_id
    assert predicted[0][-1] == bert_tokenizer.sep_token_id  # a short line keeps its own


@pytest.mark.slow  # unpacks the 80 MB bundled model
def test_a_missing_base_model_is_named_and_the_bundled_one_unpacked_again(tmp_path):
    from scoring.predictor import base_model_folder
    from training.architecture import ModelConfigError
    from training.bundled_model import FOLDER_NAME

    # given a run.yaml naming a base model folder that is not on this machine
    # then prediction says which folder is missing
    with pytest.raises(ModelConfigError, match="the base model this run was trained from is not on this machine"):
        base_model_folder(str(tmp_path / "models" / "Qwen3-4B"))
    # and the bundled model is unpacked again where run.yaml says it was
    unpacked = base_model_folder(str(tmp_path / "models" / FOLDER_NAME))
    assert (tmp_path / "models" / FOLDER_NAME / "model.safetensors").exists() and unpacked.endswith(FOLDER_NAME)
