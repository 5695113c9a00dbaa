import sys

from groupmsg.cli import main

sys.exit(main())
