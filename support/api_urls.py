from django.urls import path

from support import api

urlpatterns = [
    path("tickets/", api.TicketListCreate.as_view(), name="support-tickets"),
    path("tickets/<int:pk>/", api.TicketDetail.as_view(), name="support-ticket"),
    path(
        "tickets/<int:pk>/messages/",
        api.TicketMessageCreate.as_view(),
        name="support-ticket-messages",
    ),
    path("tickets/<int:pk>/close/", api.TicketClose.as_view(), name="support-ticket-close"),
    path("kb/articles/", api.ArticleList.as_view(), name="support-kb-articles"),
    path("kb/articles/<slug:slug>/", api.ArticleDetail.as_view(), name="support-kb-article"),
    path("chat/", api.Chat.as_view(), name="support-chat"),
    path("chat/<int:pk>/handoff/", api.ChatHandoff.as_view(), name="support-chat-handoff"),
    path(
        "chat/<int:pk>/messages/<int:mid>/rate/", api.ChatRate.as_view(), name="support-chat-rate"
    ),
]
