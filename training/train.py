"""SageMaker script-mode entry point: `python train.py --label churned --epochs 10 ...`.

SageMaker runs it from the extracted source folder, so `lambdaops_trainer` beside it is importable.
Hyperparameters come as arguments and in SM_HPS; channels and output folders as SM_* variables.
"""

import os
import sys

from lambdaops_trainer.job import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
