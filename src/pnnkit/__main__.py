import sys

from pnnkit.cli import main

sys.exit(main())
