from composer.cli import app

app()
