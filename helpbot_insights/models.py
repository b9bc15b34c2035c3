"""Staff views of how the help bot does: its ratings per article, the answers customers
rated down, and the questions it could not answer (no tables of their own)."""

from support.models import Article, ChatMessage


class ArticleFeedback(Article):
    class Meta:
        proxy = True
        verbose_name = "help-bot rating by article"
        verbose_name_plural = "help-bot ratings by article"


class RatedDownAnswer(ChatMessage):
    class Meta:
        proxy = True
        verbose_name = "answer rated not helpful"
        verbose_name_plural = "answers rated not helpful"


class UnansweredQuestion(ChatMessage):
    class Meta:
        proxy = True
        verbose_name = "question the bot could not answer"
        verbose_name_plural = "questions the bot could not answer"
