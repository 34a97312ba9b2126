"""Our own small char-level Chinese BERT: vocabulary, corpus, MLM pretraining, per-head
fine-tuning, ONNX int8 export, and the two runtimes that implement ``HeadPredictor``.

No pretrained Chinese weights can be downloaded, so the flow is::

    texts = corpus.load_corpus(path, exclude=datasets.test_texts(data_dir))
    pretrain.pretrain(texts, "models/base", ...)              # MLM on unlabeled Weibo
    finetune.finetune("models/base", head, labels, train, val, "models/<head>")
    export.export_onnx("models/<head>", "models/<head>-onnx") # int8, torch-free inference
    runtime.load_head("models/<head>-onnx").predict_proba(texts)

Only ``runtime`` is imported here: it loads neither torch nor transformers, so the labelling
stage can run ONNX heads without them. Import the training modules explicitly.
"""

from nlp.transformer.runtime import ModelError, ModelMissing, OnnxHead, TorchHead, load_head

__all__ = ["ModelError", "ModelMissing", "OnnxHead", "TorchHead", "load_head"]
