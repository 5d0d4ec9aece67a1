import django.db.models
from django.db import migrations

import petition_widget.embed


class Migration(migrations.Migration):
    dependencies = [
        ("petition_widget", "0006_admin_review"),
    ]

    operations = [
        migrations.AddField(
            model_name="petition",
            name="embed_origins",
            field=django.db.models.TextField(
                blank=True,
                help_text=(
                    "One origin a line (https://blog.example, http://localhost:8080): only pages of these sites may "
                    "show the embedded form; none when empty. The petition's form page and the template tag are not "
                    "affected."
                ),
                validators=[petition_widget.embed.validate_embed_origins],
                verbose_name="sites allowed to embed the form",
            ),
        ),
    ]
