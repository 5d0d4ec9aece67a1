from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("petition_widget", "0005_upstream_validation"),
    ]

    operations = [
        migrations.AddField(
            model_name="signature",
            name="state_before_spam",
            field=models.CharField(
                blank=True,
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("sent", "Sent"),
                    ("held", "Held"),
                    ("rejected", "Rejected"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                    ("unconfirmed", "Awaiting confirmation"),
                    ("spam", "Spam"),
                ],
                editable=False,
                max_length=16,
                verbose_name="state before it was marked as spam",
            ),
        ),
    ]
