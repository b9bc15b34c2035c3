from django.urls import path

from support import views

app_name = "support"

urlpatterns = [
    path("support/", views.ticket_list, name="tickets"),
    path("support/new/", views.ticket_new, name="ticket_new"),
    path("support/chat/", views.chat, name="chat"),
    path("support/tickets/<int:pk>/", views.ticket_detail, name="ticket"),
    path("support/tickets/<int:pk>/reply/", views.ticket_reply, name="ticket_reply"),
    path("support/tickets/<int:pk>/close/", views.ticket_close, name="ticket_close"),
    path(
        "support/tickets/<int:pk>/attachments/<int:file_id>/", views.attachment, name="attachment"
    ),
    path("help/", views.help_index, name="help"),
    path("help/search/", views.help_search, name="help_search"),
    path("help/<slug:slug>/", views.help_article, name="help_article"),
]
